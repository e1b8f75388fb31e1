"""Gradient checks: hand-written gradients against finite differences (docs/gradcheck.md).

For anyone's NumPy code:

    check_grad(f, grad, x, *args)       a scalar function and its gradient
    check_vjp(f, vjp, *inputs)          any function and its vector-Jacobian product
    check_layer(layer, *inputs)         a layer (minivae's, or duck-typed: layers.py),
                                        in its own conventions (adapter=, adapters.py)
    check_model(model, x)               a whole model's loss and parameters
    check_gradients(loss, params, grads)   a zero-argument loss over arrays it reads
    numerical_gradient(f, x)            the bare central difference

Each returns a GradCheckReport whose verdict is "pass", "FAIL" or "inconclusive":
an entry FAILs when its analytic and numerical values differ by more than
rounding and truncation allow (its floor) plus rtol times its size; the check
passes when every difference is also within rtol of the array's largest entry
(relative_error <= rtol), and is inconclusive when some difference above that
lies within the floor. The floor comes from the rounding noise of f (noise.py),
measured, not assumed. Kinks (ReLU at 0) are found and measured one-sided, f and
the gradient are run twice to catch state and noise (determinism.py), and
failures come with their worst entries and hints (diagnostics.py). A NaN or inf
never passes: a non-finite analytic gradient FAILs, and where a step leaves f's
domain the entry is judged one-sided (judge.py, domain.py). At most
DEFAULT_MAX_ENTRIES entries per array are sampled, and the rest screened by group
tests, unless max_entries=None (core.py, screen.py).

Integer and boolean inputs are passed through unperturbed and named as not checked;
a layer's state is put back before every forward (state.py) and its gradients
zeroed before every backward, so running statistics, caches and accumulating
gradients do not disturb the check; global_seed=k re-seeds numpy's global random
state before every call, for code that draws from it (opt-in, restored after).

The package, one concept per module: inputs (copies to float64), differences
(stencils), noise (the rounding floor), judge (each entry's verdict), domain
(steps that leave f's domain), screen (group tests of unsampled entries), result
and report (what is returned), diagnostics (hints), determinism (run twice, fix
noise), core (the engine), functions (check_grad, check_vjp), adapters (where a
layer keeps parameters and gradients), state (a layer's state, put back), layers
(check_layer, the Layer protocol), models (check_model, check_gradients).
"""

from .core import DEFAULT_MAX_ENTRIES, run_check
from .determinism import fixed_noise
from .differences import numerical_gradient
from .functions import check_grad, check_vjp
from .layers import check_layer
from .models import check_gradients, check_model
from .report import GradCheckReport
from .result import TORCH_ATOL, TORCH_RTOL, CheckResult, relative_error

__all__ = ["check_grad", "check_vjp", "check_layer", "check_model", "check_gradients",
           "numerical_gradient", "relative_error", "fixed_noise", "run_check",
           "GradCheckReport", "CheckResult", "TORCH_ATOL", "TORCH_RTOL",
           "DEFAULT_MAX_ENTRIES"]
