import pytest

from digest.tex import readable


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("PixArt-\\Sigma: Weak-to-Strong Training", "PixArt-Σ: Weak-to-Strong Training"),
        ("H$_2$O: Heavy-Hitter Oracle", "H2O: Heavy-Hitter Oracle"),
        ("(6.25~\\% of the k-space)", "(6.25 % of the k-space)"),
        ("a $\\cdot$ b and $\\alpha$-blending", "a · b and α-blending"),
        ("x$^{2}$ grows", "x2 grows"),
        ("an unknown \\proj command", "an unknown \\proj command"),
        ("plain text stays plain", "plain text stays plain"),
    ],
)
def test_common_latex_reads_as_plain_unicode(source, shown):
    assert readable(source) == shown
