"""What Kawaguchi 2021 (ICLR; arXiv 2102.07346) says, as used by the deq.* claims, each with its source.

The full text was not reachable (spec explicit_deq.md, "What was not reachable"): the statements below are the
abstract's [V], and the spec's [R]/[D] readings of the theorems; the theorem constants are derived (spec B.5).
"""

PAPER = "Kawaguchi 2021 (ICLR)"

# Abstract [V]: "convergence to global optimum at a linear rate is guaranteed without any assumption on the width of
# the models, allowing the width to be smaller than the output dimension and the number of data points".
LINEAR_RATE = ("gradient dynamics of the deep equilibrium linear model converge to the global optimum at a linear "
               "rate: L_T − L* ≤ (L_0 − L*) exp(−2∫λ_min(ΦΦᵀ)λ_min(U_tᵀU_t)dt)")
# spec B.5 [R form; D constant]: the bound as derived for the square loss, checked along a small-step GD run
# (min margin +5.3; log ratio −37.8 ≤ −22.9); λ_min(UᵀU) ≥ 1/(1 + γ√m)² for every A (spec B.5 [D]).
LINEAR_RATE_VALUE = ("[R form] linear rate e^{−2λ_T T} to the global optimum; spec B.5: measured rate ≥ bound at "
                     "every step, log ratio −37.8 ≤ −22.9 (bound)")
ANY_WIDTH = ("convergence to the global optimum at a linear rate holds without any assumption on the width, allowing "
             "the width to be smaller than the output dimension and the number of data points")
ANY_WIDTH_VALUE = "global optimum reached with width m < m_y and m ≪ n (no width condition) [abstract, V]"

# Abstract [V]: "we prove a relation between the gradient dynamics of the deep implicit layer and the dynamics of
# trust region Newton method of a shallow explicit layer"; paper_facts 003 (liner.com note): an "exact relationship
# … with those of an adaptive trust region Newton method". spec B.6 [R]: P_t plays the role of (H_t + μ_tI)⁻¹ for a
# time-varying Hessian approximation H_t and radius; the exact H_t and Δ_t are not known to us.
TRUST_REGION = ("the gradient dynamics of the deep implicit layer relate to the dynamics of the trust region Newton "
                "method of a shallow explicit layer")
TRUST_REGION_VALUE = ("[R] dvec(W)/dt = −P_t vec∇L_lin: the shallow model's adaptive TR-Newton flow with Hessian "
                      "approximation H_t = P_t⁻¹ − μ_tI (not plain GD)")

# Abstract [V]: "this mathematically proven relation along with our numerical observation suggests the importance of
# understanding implicit bias of implicit layers"; spec B.7 [R, low confidence]: DEQ test performance "differs
# from, and is typically better than, the linear model trained by GD"; DLNs are compared too.
IMPLICIT_BIAS = ("numerical observation: trained with the same budget, the DEQ linear model generalises differently "
                 "from (better than) the linear model and deep linear nets")
IMPLICIT_BIAS_VALUE = "[R, low confidence] DEQ test accuracy above the linear model's and the DLN's (MNIST and others)"
