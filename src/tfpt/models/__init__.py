"""Twin models: the same names and constructor arguments in both frameworks.

``tfpt.models.keras.MnistCNN(...)`` returns a ``keras.Sequential``;
``tfpt.models.torch.MnistCNN(...)`` an ``nn.Sequential`` with the same layer
names, the same parameter count and the same maths once weights are ported
(:mod:`tfpt.port`). Inputs: NHWC for Keras, NCHW for torch; outputs: logits.
Framework defaults differ on purpose where they differ in real life (weight
initialization); the torch BatchNorm uses Keras's epsilon and momentum so a
ported pair agrees.
"""

MODEL_NAMES = ("MLP", "MnistCNN", "ConvBNNet", "FastResNet")
FRAMEWORKS = ("torch", "tf")
MODULES = {"torch": "torch", "tf": "keras"}  # the tf twin builds on Keras: models/keras.py


def build(framework: str, name: str, **kwargs):
    """Build twin ``name`` for ``framework``: 'torch' or 'tf' ('keras' is accepted too)."""
    import importlib

    framework = {"keras": "tf", "tensorflow": "tf", "pytorch": "torch"}.get(framework, framework)
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}: choose torch or tf")
    module = importlib.import_module(f"tfpt.models.{MODULES[framework]}")
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODEL_NAMES)}")
    return getattr(module, name)(**kwargs)


def twin(builder):
    """Record the builder's name and arguments on the model it returns.

    Checkpoints store them so a model can be rebuilt, and so loading a checkpoint
    into a different model fails with a clear message.
    """
    import functools
    import inspect
    import json

    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def build(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        spec = {k: list(v) if isinstance(v, tuple) else v for k, v in bound.arguments.items()}
        model = builder(*args, **kwargs)
        model.tfpt_spec = json.dumps({"name": builder.__name__, "kwargs": spec})
        return model

    return build


def spec_of(model) -> dict:
    """``{"name": ..., "kwargs": {...}}`` of a twin model, or ``{}`` for any other model."""
    import json

    raw = getattr(model, "tfpt_spec", None)
    return json.loads(raw) if raw else {}
