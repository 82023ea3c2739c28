import pytest

from digest.tex import readable


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("PixArt-\\Sigma: Weak-to-Strong Training", "PixArt-Σ: Weak-to-Strong Training"),
        ("H$_2$O: Heavy-Hitter Oracle", "H2O: Heavy-Hitter Oracle"),
        ("(6.25~\\% of the k-space)", "(6.25 % of the k-space)"),
        ("a $\\cdot$ b and $\\alpha$-blending", "a · b and α-blending"),
        ("an unknown \\proj command", "an unknown \\proj command"),
        ("plain text stays plain", "plain text stays plain"),
        # Commands pylatexenc knows, which the old table did not.
        ("Attention in $\\mathcal{O}(n^2)$ time", "Attention in 𝒪(n²) time"),
        ("Points in $\\mathbb{R}^d$", "Points in ℝᵈ"),
        ('Schr\\"odinger bridges', "Schrödinger bridges"),
        ('{\\"U}ber and na\\"{\\i}ve', "Über and naïve"),
        ("$O(n \\log n)$ sorting", "O(n log n) sorting"),
        ("$\\ell_1$ and $W_{\\theta}$", "ℓ1 and Wθ"),
        ("x$^{2}$ grows, $A^\\top$ too", "x² grows, A^⊤ too"),
        ("a $2^{-k}$ step", "a 2⁻ᵏ step"),
        ("\\textbf{Bold} and \\emph{emphasis}", "Bold and emphasis"),
        # Money is not math; a bare % is a per cent sign, not a comment.
        ("Costs $5 and $10 per run", "Costs $5 and $10 per run"),
        ("From $5 to $x$ with \\alpha", "From $5 to x with α"),
        ("Cuts memory by 50% with $\\alpha$-pruning", "Cuts memory by 50% with α-pruning"),
        ("Q&A with #hashtags and $k$-NN", "Q&A with #hashtags and k-NN"),
        ("an escaped \\$ dollar", "an escaped $ dollar"),
        # A space the source writes after a command stays: LaTeX would swallow it, and
        # the sample's "PixArt-\\Sigma represents" read "PixArt-Σrepresents".
        ("PixArt-\\Sigma represents a", "PixArt-Σ represents a"),
        ("the \\alpha parameter and $\\beta$ too", "the α parameter and β too"),
        # An accent with nothing after it is an apostrophe written with a backslash (the
        # sample's "models\\' decisions" read "modelsd́ecisions"); a real one stays an accent.
        ("interpreting these models\\' decisions", "interpreting these models' decisions"),
        ("caf\\'e and models\\'", "café and models'"),
    ],
)
def test_common_latex_reads_as_plain_unicode(source, shown):
    assert readable(source) == shown


def test_a_cards_snippet_reads_the_same_from_the_start_of_an_abstract_as_from_all_of_it():
    from pathlib import Path

    from digest.digest_email import ABSTRACT_SNIPPET_CHARS, snippet
    from digest.tex import readable_start

    listing = (Path(__file__).resolve().parents[2] / "digest/sample_data/daily_papers_listing.txt").read_text()
    made_up = [
        "We bound the error by $\\mathcal{O}(n^2)$ and " + "more words here " * 30 + "$x_1$ and $y^{2}$.",
        "A \\textbf{bold claim " + "inside a long group " * 20 + "} then $\\alpha$ more " + "text " * 50,
        "Costs $5 and $10, 50% of the time, with H$_2$O " * 12 + "\\emph {end}",
        "\\begin{itemize}\\item one " + "word " * 100 + "\\end{itemize}",
        "Schr\\\"odinger -- ``quoted'' ~ spaced " * 15,
    ]
    abstracts = [block for block in listing.split("\n\n") if any(c in block for c in "\\$~")] + made_up
    assert len(abstracts) > len(made_up)

    for abstract in abstracts:
        assert snippet(readable_start(abstract, ABSTRACT_SNIPPET_CHARS + 1)) == snippet(readable(abstract)), abstract
