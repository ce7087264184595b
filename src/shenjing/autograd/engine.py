"""The backward pass: one function that walks the graph in reverse topological order.

1. Discover every node reachable from the outputs and count, for each, how many edges lead into it.
2. Seed the outputs' nodes with their gradients (ones for a scalar loss).
3. Repeatedly take a node all of whose consumers are done, call its backward, and pass each input
   gradient down its edge: into the buffer of the node that produced that input, or, for a leaf,
   into ``leaf.grad``. A node is ready when its count of pending consumers reaches zero.

No recursion anywhere, so a chain of 100,000 ops is fine; after a node has run, its saved tensors
are freed unless ``retain_graph`` is set.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Node

__all__ = ["run_backward", "queue_callback"]

_queued_callbacks: list = []  # run when the backward pass now running has finished (see queue_callback)


def queue_callback(callback: Any) -> None:
    """Call ``callback()`` once the backward pass now running has finished with the graph (PyTorch's
    ``Variable._execution_engine.queue_callback``; DistributedDataParallel averages gradients there)."""
    _queued_callbacks.append(callback)


def run_backward(outputs: Sequence[Any], output_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Any] | None = None,
                 accumulate: bool = True) -> list | None:
    """Backpropagate ``output_grads`` from ``outputs``.

    With ``accumulate=True`` (``Tensor.backward``) gradients are added to the ``.grad`` of leaves
    (only those in ``inputs`` if given). With ``accumulate=False`` (``autograd.grad``) nothing is
    stored and the gradients with respect to ``inputs`` are returned, ``None`` where unreachable.
    """
    captured_leaves: dict = {}
    captured_outputs: dict = {}
    if inputs is not None:
        for position, x in enumerate(inputs):
            if x.grad_fn is None:
                captured_leaves[x] = position
            else:
                captured_outputs[(x.grad_fn, x._output_nr)] = position
    results: list = [None] * len(inputs) if inputs is not None else []

    buffers: dict = {}
    root_nodes = []
    for tensor, grad in zip(outputs, output_grads):
        if tensor.grad_fn is None:
            _deliver_to_leaf(tensor, grad, accumulate, create_graph, captured_leaves, results)
            continue
        node = tensor.grad_fn
        buffer = buffers.setdefault(node, [None] * node._num_outputs)
        nr = tensor._output_nr
        buffer[nr] = grad if buffer[nr] is None else buffer[nr] + grad
        root_nodes.append(node)

    pending = _count_consumers(root_nodes)
    needed = _nodes_leading_to(pending, captured_leaves, captured_outputs) if inputs is not None else None
    ready = [node for node in dict.fromkeys(root_nodes) if pending[node] == 0]

    plain = accumulate and not create_graph and not captured_leaves  # leaves only take their gradient
    previous_mode = _GradState.enabled
    _GradState.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None) or [None] * node._num_outputs
            if node._pre_hooks or node._retained:
                _run_tensor_hooks(node, grads)
            if captured_outputs:
                for nr, grad in enumerate(grads):
                    position = captured_outputs.get((node, nr))
                    if position is not None:
                        results[position] = grad
            input_grads = _call_node(node, grads, retain_graph) if needed is None or node in needed else ()
            if not input_grads:
                input_grads = (None,) * len(node._edges)
            # a leaf may adopt a gradient that an op declares it made for this call (``Op.owns_gradients``),
            # unless the op passed it through (one of its incoming ones) or returned it twice
            shared = _shared_gradients(grads, input_grads) if node.owns_gradients and not create_graph else None
            for edge, grad, meta in zip(node._edges, input_grads, node._input_meta):
                if edge is None:
                    continue
                if grad is not None and (grad._data.shape != meta[0] or grad._data.dtype != meta[1]):
                    grad = _match_input(grad, meta, node)
                if type(edge) is tuple:
                    child, nr = edge
                    if grad is not None:
                        buffer = buffers.get(child)
                        if buffer is None:
                            buffer = buffers[child] = [None] * child._num_outputs
                        buffer[nr] = grad if buffer[nr] is None else _sum(buffer[nr], grad, create_graph)
                    pending[child] -= 1
                    if pending[child] == 0:
                        ready.append(child)
                elif grad is not None:
                    steal = shared is not None and id(grad) not in shared
                    if plain and not edge._hooks:  # the usual case: add to .grad (or adopt)
                        _accumulate_grad(edge, grad, False, steal)
                    else:
                        _deliver_to_leaf(edge, grad, accumulate, create_graph, captured_leaves, results, steal)
        while _queued_callbacks:
            _queued_callbacks.pop(0)()
    finally:
        _queued_callbacks.clear()
        _GradState.enabled = previous_mode
    return results if not accumulate else None


def _sum(a: Any, b: Any, create_graph: bool) -> Any:
    """Two gradients of one tensor, added (a new array: either may be shared with another tensor)."""
    if create_graph:
        return a + b
    return Tensor._make(np.add(a._data, b._data))


def _shared_gradients(grads: list, input_grads: tuple) -> set:
    """The ids of the node's input gradients that no leaf may adopt: its incoming gradients (passed
    through) and any it returned twice. (Ids of objects alive during the call: the lists hold them.)"""
    shared = {id(g) for g in grads}
    seen = set()
    for g in input_grads:
        key = id(g)
        if key in seen:
            shared.add(key)
        seen.add(key)
    return shared


def _count_consumers(root_nodes: list) -> dict:
    """For every node reachable from the roots, the number of edges that lead into it."""
    pending = {node: 0 for node in root_nodes}
    stack = list(pending)
    while stack:
        node = stack.pop()
        for edge in node._edges:
            if isinstance(edge, tuple):
                child = edge[0]
                if child in pending:
                    pending[child] += 1
                else:
                    pending[child] = 1
                    stack.append(child)
    return pending


def _nodes_leading_to(pending: dict, leaves: dict, outputs: dict) -> set:
    """The nodes from which some requested input can be reached (autograd.grad computes only these)."""
    order, remaining = [], dict(pending)
    stack = [node for node, count in remaining.items() if count == 0]
    while stack:
        node = stack.pop()
        order.append(node)
        for edge in node._edges:
            if isinstance(edge, tuple):
                remaining[edge[0]] -= 1
                if remaining[edge[0]] == 0:
                    stack.append(edge[0])
    targets = {node for node, _ in outputs}
    needed = set()
    for node in reversed(order):
        for edge in node._edges:
            if isinstance(edge, tuple) and (edge[0] in needed or edge[0] in targets):
                needed.add(node)
                break
            if edge is not None and not isinstance(edge, tuple) and edge in leaves:
                needed.add(node)
                break
    return needed


def _call_node(node: Node, grads: list, retain_graph: bool) -> tuple:
    if len(grads) == 1:
        if grads[0] is None:
            return ()
    elif any(g is None for g in grads):  # (not ``None in grads``: that would call Tensor.__eq__)
        if all(g is None for g in grads):
            return ()
        grads = _zeros_for_missing(node, grads)
    input_grads = (node._call_backward(tuple(grads), not retain_graph) if node.frees_during_backward
                   else node._call_backward(tuple(grads)))
    if len(input_grads) != len(node._edges):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {len(node._edges)}, got {len(input_grads)})")
    if _GradState.anomaly:
        _check_finite(node, input_grads)
    if not retain_graph:
        node._release()
    return input_grads


def _zeros_for_missing(node: Node, grads: list) -> list:
    from shenjing._tensor import Tensor

    shapes = getattr(node, "_output_shapes", None)
    return [g if g is not None else Tensor._make(np.zeros(shapes[i][0], shapes[i][1]))
            for i, g in enumerate(grads)] if shapes else grads


def _match_input(grad: Any, meta: tuple, node: Node) -> Any:
    """Sum a broadcast gradient back to the input's shape and give it the input's dtype."""
    shape, dtype = meta
    data = grad._data
    if data.shape != shape:
        from shenjing._ops.shape import sum_to

        try:
            grad = sum_to(grad, shape)
        except RuntimeError:
            raise RuntimeError(f"function {node.name()} returned a gradient of shape {list(data.shape)} "
                               f"for an input of shape {list(shape)}") from None
    if grad._data.dtype != dtype:
        from shenjing._dtype import from_numpy_dtype

        grad = grad.to(from_numpy_dtype(dtype))
    return grad


def _deliver_to_leaf(leaf: Any, grad: Any, accumulate: bool, create_graph: bool,
                     captured: dict, results: list, steal: bool = False) -> None:
    if leaf._hooks:
        steal = False  # a hook may keep the gradient it sees
        for hook in leaf._hooks:
            if getattr(hook, "post_accumulate", False):
                continue  # Tensor.register_post_accumulate_grad_hook: run after .grad is updated
            replaced = hook(grad)
            if replaced is not None:
                grad = replaced
    if not accumulate:
        position = captured.get(leaf)
        if position is not None:
            results[position] = grad if results[position] is None else results[position] + grad
        return
    if captured and leaf not in captured:
        return
    _accumulate_grad(leaf, grad, create_graph, steal)
    for hook in leaf._hooks or ():
        if getattr(hook, "post_accumulate", False):
            hook(leaf)


def _accumulate_grad(tensor: Any, grad: Any, create_graph: bool, steal: bool = False) -> None:
    """``tensor.grad += grad``, owning a fresh array the first time (gradients may be shared views).

    The first gradient is copied, except when ``steal`` says that the op which made it owns it (it
    was made for this call and nothing else refers to it: ``Op.owns_gradients``) and it has the
    leaf's dtype and is writable and contiguous. Then it becomes ``.grad`` as it is (PyTorch's
    AccumulateGrad does the same when nothing else holds the gradient), so a step costs no copy of
    the parameters' size.
    """
    current = tensor.grad
    if create_graph:
        tensor.grad = grad if current is None else current + grad
    elif current is None:
        data = grad._data
        if steal and data.dtype == tensor._data.dtype and data.flags.writeable and data.flags.c_contiguous:
            tensor.grad = Tensor._make(data)
            return
        tensor.grad = Tensor._make(np.array(grad._data, dtype=tensor._data.dtype, copy=True))
    elif current._requires_grad:
        tensor.grad = Tensor._make(current._data + grad._data)
    else:
        np.add(current._data, grad._data, out=current._data)


def _run_tensor_hooks(node: Node, grads: list) -> None:
    """Hooks registered on non-leaf tensors, then ``retain_grad``: they see the total gradient."""
    for nr, hooks in (node._pre_hooks or {}).items():
        for hook in hooks:
            if grads[nr] is not None:
                replaced = hook(grads[nr])
                if replaced is not None:
                    grads[nr] = replaced
    for nr, ref in (node._retained or {}).items():
        tensor = ref()
        if tensor is not None and grads[nr] is not None:
            _accumulate_grad(tensor, grads[nr], _GradState.enabled)


def _check_finite(node: Node, input_grads: tuple) -> None:
    for i, grad in enumerate(input_grads):
        if grad is not None and not np.all(np.isfinite(grad._data)):
            kind = "nan" if np.any(np.isnan(grad._data)) else "inf"
            message = f"Function '{node.name()}' returned {kind} values in its {i}th output."
            if node._trace:
                message += ("\nThe forward call that created this node (anomaly mode):\n"
                            + "".join(node._trace[-6:]))
            raise RuntimeError(message)
