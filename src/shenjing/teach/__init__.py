"""See inside the network: backprop traces with numbers, model summaries and shape arithmetic,
computational graphs, whole-model gradient checks, feature maps, decision boundaries, training
curves and gradient health, optimiser paths. Plots need the ``plot`` extra (matplotlib)."""
