"""Abstracts and titles arrive with bits of LaTeX ("PixArt-\\Sigma", "H$_2$O",
"6.25~\\%"). Readers should see "PixArt-Σ", "H2O" and "6.25 %": this turns the common
cases into plain Unicode for display. The stored text stays as the source gave it."""

from __future__ import annotations

import re

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ",
    "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ",
    "Omega": "Ω", "cdot": "·", "times": "×", "approx": "≈", "sim": "~", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "pm": "±", "infty": "∞", "rightarrow": "→", "to": "→",
    "leftarrow": "←", "ldots": "…", "dots": "…", "%": "%", "&": "&", "_": "_", "#": "#",
}
# Letter commands ("\Sigma") and escaped symbols ("\%").
_COMMAND = re.compile(r"\\([A-Za-z]+|[%&_#])")
_MATH = re.compile(r"\$([^$]{1,80})\$")
_SCRIPT = re.compile(r"[_^]\{([^{}]*)\}|[_^](\w)")


def _symbol(match: re.Match) -> str:
    name = match.group(1)
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    return match.group(0)  # unknown commands ("\proj") stay as written


def _math(match: re.Match) -> str:
    inner = _SCRIPT.sub(lambda m: m.group(1) or m.group(2), match.group(1))
    return inner.replace("{", "").replace("}", "")


def readable(text: str) -> str:
    if not text or not any(c in text for c in "\\$~"):
        return text
    text = _MATH.sub(_math, text)
    text = _COMMAND.sub(_symbol, text)
    return text.replace("~", " ")
