"""The papers' printed statements used by the ``mup.*`` claims, each with its source.

No numbers are printed for these experiments (``/work/shared/specs/mup.md`` §4.3, ``paper_facts.md`` §004): the
claims compare trends in width. The width exponents the theory predicts come from the abc-table (TP IV).
"""

CHEN = "Chen, Yang, Zhao, Gu 2025"
TP5 = "Yang et al. 2022 (Tensor Programs V); Chen, Yang, Zhao, Gu 2025"

# Chen et al. 2025, Fig. 1 caption (left panel), 3-layer MLP on CIFAR-10: "only μP maintains stable feature
# representations"; the relative feature change ‖h − h0‖/‖h0‖ of SP and NTP shrinks with width.
FEATURE_CHANGE = "Fig. 1 left: only μP keeps ‖h − h0‖/‖h0‖ flat in width; SP and NTP decrease (trend; no numbers)"
# Chen et al. 2025, Fig. 1 caption (right panel): "Meanfield suffers from feature collapse while SP, NTP and μP
# preserve rich feature representations", measured by λ_min of K_ij = ⟨h(x_i), h(x_j)⟩.
# The third measure (paper_facts.md §004, from a note on the PDF): λ_min of the joint Gram of the concatenated
# [h0(ξ_1), h^T(ξ_1), …, h0(ξ_N), h^T(ξ_N)], "stable only for μP; all others decay with width".
FEATURE_DIVERSITY = ("Fig. 1: λ_min(K), K_ij = ⟨h(x_i), h(x_j)⟩: mean-field → 0 with width; SP, NTP, μP stay > 0; "
                     "λ_min of the joint Gram of [h0, h^T]: stable only for μP, all others decay (trend; no numbers)")
# Chen et al. 2025, Theorem 4.5 (features stay linearly independent at every step and layer) and Corollary 4.6
# (if training converges the error signals vanish: a global minimum; no rate is given).
GLOBAL_CONVERGENCE = ("Thm 4.5 / Cor. 4.6: training loss → 0 (global minimum); λ_min(feature Gram) > 0 throughout; "
                      "Σ_i ℓ'_i x^L(ξ_i) → 0 (no rate printed)")
# Yang et al. 2022 (TP V), Fig. 1 / §1: under μP the optimal learning rate is stable across widths, under SP it
# shifts to smaller η as the width grows. No numbers for this MLP.
LR_TRANSFER = ("μP: the optimal η is stable across widths; SP: it shifts to smaller η as width grows (TP V's "
               "headline trend; no numbers for this MLP)")
# Theory's width exponents of the measured quantities (abc-table, TP IV; derived in models.abc_exponents):
# relative feature change: μP n^0, NTP n^-1/2, SP at its stable rate η·n0/n about n^-1; MF's hidden features are
# ~n^-1/2 per coordinate, so λ_min(K/n) of its hidden layer falls like n^-1 relative to μP's.
NTP_CHANGE_EXPONENT = -0.5
MF_COLLAPSE_EXPONENT = -1.0
