"""See inside the network: backprop traces with numbers, model summaries and shape arithmetic,
computational graphs, whole-model gradient checks, feature maps, decision boundaries, training
curves and gradient health, optimiser paths; and the playground (``shenjing playground``, a web page
whose network shenjing trains live: ``shenjing.teach.playground``). Plots need the ``plot`` extra
(matplotlib)."""
