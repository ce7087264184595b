"""The playground: the TensorFlow Playground's lessons in a browser page, trained by shenjing itself.

``shenjing playground`` serves the page (``static/``) and a JSON API (``server``) over one ``Session``
(``session``): a shenjing ``nn.Sequential`` built from the page's settings (``settings``), trained by
``shenjing.optim`` on the 2-D data sets or the user's points (``data``). ``lessons`` adds the
perceptron's and the linear SVM's lines and the numbers of one backpropagation step; ``export`` writes
the network as a runnable Python file and its weights as a ``shenjing.save`` file. See docs/playground.md.
"""
