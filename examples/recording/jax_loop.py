"""Recipe: record a JAX/optax loop (docs/checking.md). Run: python examples/recording/jax_loop.py"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from comparisons.record import Recorder

HERE = Path(__file__).parent
data = np.loadtxt(HERE / "shipments.csv", delimiter=",", skiprows=1)
x, y = jnp.asarray(data[:, :-1]), jnp.asarray(data[:, -1])
params = {"w": 0.1 * jax.random.normal(jax.random.key(0), (2,)), "b": jnp.zeros(())}
optimizer = optax.adam(0.05)
state = optimizer.init(params)


def loss_fn(params, xb, yb):
    return 0.5 * jnp.mean((xb @ params["w"] + params["b"] - yb) ** 2)


rng = np.random.default_rng(0)
rec = Recorder()
for _ in range(5):
    batch = rng.choice(len(x), size=4, replace=False)  # a random subset at every step
    loss, grads = jax.value_and_grad(loss_fn)(params, x[batch], y[batch])
    rec.step(params=params, grads=grads, loss=loss, batch=batch)
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
rec.final(params)

verdict = rec.check(HERE / "jax.toml", dtype="float32")
print("\n".join(verdict.lines()))
