"""The printed statements and numbers of Williams & Zhao (2023) used by the explicit claims, each with its source.

The paper's full text was not reachable (spec explicit_deq.md A.1): the statements come from the arXiv abstract
(2311.07498) and the ICLR 2024 reviews of the submission (OpenReview; see ``/work/shared/specs/paper_facts.md``
§002). No table value of the paper was recovered; where a claim has no printed number, the statement is the
paper's words and the setup (BabyLM, its vocabulary, optimizer, epochs) is unknown.
"""

PAPER = "Williams & Zhao 2023"

# arXiv abstract: "iterative optimization only marginally improves the explicit solution parameters" (the
# single-layer softmax LM, CBOW form; Table 1, BabyLM 10M tokens; its perplexities were not recovered).
MARGINAL = "warm-started training only marginally improves perplexity (Table 1, BabyLM; values not recovered)"

# arXiv abstract: "randomly initialized parameters iteratively optimize towards the explicit solution" (a figure).
TOWARD = "distance from random-init training to the explicit solution shrinks along training (figure; values " \
         "not recovered)"

# ICLR reviews: warm start (explicit, then backprop) vs cold start curves; SAFFU companion Fig. 1.
WARM = "warm starts reach a given loss faster than cold (random) starts (figures; values not recovered)"

# ICLR reviews (Fig. 2, mis-cited as Fig. 4): "82%" MNIST test accuracy of the explicit solution with no training;
# arXiv abstract: the solution generalises to positive-valued features, and iterative optimization "only
# marginally improves" the explicit parameters.
MNIST_ACCURACY = 0.82
MNIST = "≈ 82% MNIST test accuracy with no training (reviews, Fig. 2); iterative training only marginally " \
        "improves it (abstract)"

# arXiv abstract: explicit solutions applied "locally by layer in multi-layer networks" lead to optima that
# "cannot be reached by backpropagation alone"; reviews: one- and two-layer warm starts, the two-layer not better.
BETTER = "warm-started models reach optima cold-started backprop does not (one- and two-layer; values not " \
         "recovered)"
