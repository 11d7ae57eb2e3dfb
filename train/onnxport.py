"""A trainable PyTorch module rebuilt from an ONNX graph of the MiniFASNet family.

The passive anti-spoof model Bonafide starts from (fr_liveness.onnx of faceplugin@1.0.3) is a
PyTorch 1.7 export at opset 9 whose batch norms are folded into the convolutions. This module walks
that graph node by node and turns every initialiser into a torch Parameter, so the same weights can
be fine-tuned and exported again. It reads the ONNX file at run time: no weights are in this code.

Only the operators that graph and its re-exports use are supported (Conv, PRelu, Add, Mul, Relu,
Sigmoid, GlobalAveragePool or ReduceMean, MatMul, BatchNormalization and the Reshape that flattens
before the classifier, with its Shape/Gather/Unsqueeze/Concat/Constant inputs); anything else is
refused with the operator's name. So it also reads back the models `passive.py` exports.
"""
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

FLATTEN_OPS = {'Shape', 'Constant', 'Gather', 'Unsqueeze', 'Concat'}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pname(name):
    return 'p_' + ''.join(c if c.isalnum() else '_' for c in name)


class OnnxNet(torch.nn.Module):
    """The graph of an ONNX file as a torch module. forward returns the logits; embed returns the
    activations of the node named embed_output (the 128-d embedding before the classifier)."""

    def __init__(self, path, embed_output=None):
        super().__init__()
        model = onnx.load(path)
        g = model.graph
        inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.params = torch.nn.ParameterDict()
        self.buffers_ = {}
        self.plan = []
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        self.embed_output = embed_output
        for n in g.node:
            op = n.op_type
            if op in FLATTEN_OPS:
                continue
            a = _attrs(n)
            ins = list(n.input)
            for x in ins:
                if x in inits and _pname(x) not in self.params:
                    t = torch.from_numpy(inits[x].copy()).float()
                    if op == 'BatchNormalization' and x.endswith(('running_mean', 'running_var')):
                        self.register_buffer(_pname(x), t)
                    elif op == 'Reshape':
                        continue
                    else:
                        self.params[_pname(x)] = torch.nn.Parameter(t)
            if op not in ('Conv', 'PRelu', 'Add', 'Mul', 'Relu', 'Sigmoid', 'GlobalAveragePool', 'ReduceMean', 'MatMul',
                          'BatchNormalization', 'Reshape'):
                raise ValueError(f'onnxport: operator {op} (node {n.name or n.output[0]}) is not supported')
            self.plan.append((op, ins, list(n.output), a))

    def _get(self, name, env):
        if name in env:
            return env[name]
        p = _pname(name)
        if p in self.params:
            return self.params[p]
        return getattr(self, p)

    def node_index(self, name):
        """The position in the plan of the node that outputs the tensor name."""
        for i, (_, _, outs, _) in enumerate(self.plan):
            if outs[0] == name:
                return i
        raise KeyError(f'onnxport: no node outputs {name!r}')

    def params_after(self, cut):
        """The names of the parameters the nodes after the tensor cut use (the trainable tail)."""
        i = self.node_index(cut)
        out = set()
        for _, ins, _, _ in self.plan[i + 1:]:
            for x in ins:
                if _pname(x) in self.params:
                    out.add(_pname(x))
        return sorted(out)

    def _run(self, x, want, start=None):
        """Runs the graph from the input (or from the tensor named start, given as x) up to want."""
        if start is None:
            env, plan = {self.input_name: x}, self.plan
        else:
            env, plan = {start: x}, self.plan[self.node_index(start) + 1:]
        for op, ins, outs, a in plan:
            g = lambda i: self._get(ins[i], env)
            if op == 'Conv':
                pads = a.get('pads', [0, 0, 0, 0])
                y = F.conv2d(g(0), g(1), g(2) if len(ins) > 2 else None, stride=a.get('strides', [1, 1]),
                             padding=(pads[0], pads[1]), dilation=a.get('dilations', [1, 1]), groups=a.get('group', 1))
            elif op == 'PRelu':
                y = F.prelu(g(0), g(1).reshape(-1))
            elif op == 'Add':
                y = g(0) + g(1)
            elif op == 'Mul':
                y = g(0) * g(1)
            elif op == 'Relu':
                y = F.relu(g(0))
            elif op == 'Sigmoid':
                y = torch.sigmoid(g(0))
            elif op == 'GlobalAveragePool':
                y = g(0).mean(dim=(2, 3), keepdim=True)
            elif op == 'ReduceMean':  # how torch exports the average pool of the squeeze-excitation blocks
                y = g(0).mean(dim=tuple(a['axes']), keepdim=bool(a.get('keepdims', 1)))
            elif op == 'Reshape':
                y = g(0).reshape(g(0).shape[0], -1)
            elif op == 'MatMul':
                y = g(0) @ g(1)
            elif op == 'BatchNormalization':
                # Always the stored statistics: fine-tuning moves the affine part only, so the
                # exported graph computes exactly what training saw.
                y = F.batch_norm(g(0), g(3), g(4), g(1), g(2), training=False, eps=a.get('epsilon', 1e-5))
            env[outs[0]] = y
            if outs[0] == want:
                return y
        return env[want]

    def forward(self, x):
        return self._run(x, self.output_name)

    def prefix(self, x, cut):
        """The activations of the tensor named cut."""
        return self._run(x, cut)

    def tail(self, h, cut):
        """The logits from the activations of the tensor named cut."""
        return self._run(h, self.output_name, start=cut)

    def embed(self, x):
        return self._run(x, self.embed_output)
