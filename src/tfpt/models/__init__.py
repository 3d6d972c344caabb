"""Twin models: the same names and constructor arguments in both frameworks.

``tfpt.models.keras.MnistCNN(...)`` returns a ``keras.Sequential``;
``tfpt.models.torch.MnistCNN(...)`` an ``nn.Sequential`` with the same layer
names, the same parameter count and the same maths once weights are ported
(:mod:`tfpt.port`). Inputs: NHWC for Keras, NCHW for torch; outputs: logits.
Framework defaults differ on purpose where they differ in real life (weight
initialization); the torch BatchNorm uses Keras's epsilon and momentum so a
ported pair agrees.
"""

MODEL_NAMES = ("MLP", "MnistCNN", "ConvBNNet")
