# Writes randomized nn-op cases (Conv, ConvTranspose, pools, old-opset Softmax/LogSoftmax/Hardmax,
# BatchNorm opset 9, Gemm, Einsum, GroupNorm opset 18, LayerNorm) in the ONNX node-test layout with
# onnxruntime outputs as the reference. Usage: python3 nn_cases.py && kiln_conformance ./cases
import os, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(0)
def case(name, op, inputs, attrs, opset, consts=(), n_out=1):
    ins = [helper.make_tensor_value_info(f'x{i}', TensorProto.FLOAT, list(a.shape)) for i, a in enumerate(inputs) if i not in consts]
    inits = [numpy_helper.from_array(a, f'x{i}') for i, a in enumerate(inputs) if i in consts]
    outs = [f'y{i}' for i in range(n_out)]
    node = helper.make_node(op, [f'x{i}' for i in range(len(inputs))], outs, **attrs)
    g = helper.make_graph([node], name, ins, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 8
    try:
        sess = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
        feeds = {f'x{i}': a for i, a in enumerate(inputs) if i not in consts}
        res = sess.run(None, feeds)
    except Exception as e:
        print('ORT rejects', name, str(e)[:100]); return
    d = f'cases/{name}'; os.makedirs(d + '/test_data_set_0', exist_ok=True)
    onnx.save(m, d + '/model.onnx')
    k = 0
    for i, a in enumerate(inputs):
        if i in consts: continue
        open(f'{d}/test_data_set_0/input_{k}.pb', 'wb').write(numpy_helper.from_array(a, f'x{i}').SerializeToString()); k += 1
    for i, r in enumerate(res):
        open(f'{d}/test_data_set_0/output_{i}.pb', 'wb').write(numpy_helper.from_array(r, outs[i]).SerializeToString())
    open(d + '/tolerance.txt', 'w').write('0.0001 1e-05')
r = lambda *s: rng.standard_normal(s).astype(np.float32)
n = 0
for t in range(25):
    sp = int(rng.integers(1, 4)); g = int(rng.choice([1, 2, 4])); c = g * int(rng.integers(1, 4)); m = g * int(rng.integers(1, 4))
    k = [int(rng.integers(1, 4)) for _ in range(sp)]; s = [int(rng.integers(1, 3)) for _ in range(sp)]; d = [int(rng.integers(1, 3)) for _ in range(sp)]
    x = r(2, c, *[int(rng.integers(5, 9)) for _ in range(sp)])
    attrs = dict(group=g, strides=s, dilations=d, kernel_shape=k)
    ap = rng.choice(['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'])
    if ap == 'NOTSET': attrs['pads'] = [int(rng.integers(0, 2)) for _ in range(2 * sp)]
    else: attrs['auto_pad'] = str(ap)
    if ap in ('SAME_UPPER', 'SAME_LOWER'): attrs['dilations'] = [1] * sp
    case(f'conv_{t}', 'Conv', [x, r(m, c // g, *k), r(m)], attrs, 17, consts=(1, 2))
    tattrs = dict(group=g, strides=s, dilations=d)
    if rng.random() < 0.5: tattrs['output_padding'] = [int(rng.integers(0, min(a, b))) if max(a,b) > 1 else 0 for a, b in zip(s, d)]
    if ap == 'NOTSET': tattrs['pads'] = attrs['pads']
    case(f'convt_{t}', 'ConvTranspose', [x, r(c, m // g, *k), r(m)], tattrs, 17, consts=(1,))
    pattrs = dict(kernel_shape=k, strides=s)
    if ap == 'NOTSET': pattrs['pads'] = [min(p, kk - 1) for p, kk in zip(attrs['pads'], k + k)]; pattrs['ceil_mode'] = int(rng.integers(0, 2))
    else: pattrs['auto_pad'] = str(ap)
    case(f'maxpool_{t}', 'MaxPool', [x], dict(pattrs, dilations=d) if ap in ('NOTSET','VALID') else pattrs, 12, n_out=1)
    case(f'avgpool_{t}', 'AveragePool', [x], dict(pattrs, count_include_pad=int(rng.integers(0, 2))), 11)
for axis in [0, 1, 2, -1]:
    for op in ['Softmax', 'LogSoftmax', 'Hardmax']:
        case(f'{op}_o11_{axis}', op, [r(2, 3, 4)], dict(axis=axis), 11)
case('bn_o9', 'BatchNormalization', [r(2, 3, 4), r(3), r(3), r(3), np.abs(r(3))], {}, 9, consts=(1, 2, 3, 4))
case('gemm_o9', 'Gemm', [r(3, 4), r(5, 4), r(1, 5)], dict(transB=1, alpha=0.3, beta=2.0), 9)
for eq, shapes in [('bij,bjk->bik', [(2, 3, 4), (2, 4, 5)]), ('i,i', [(3,), (3,)]), ('ij,kj->ik', [(3, 4), (5, 4)]),
                   ('...ii->...i', [(2, 3, 3)]), ('abc,cd,de->abe', [(2, 3, 4), (4, 5), (5, 2)]), ('bhqd,bhkd->bhqk', [(2, 2, 3, 4), (2, 2, 5, 4)]),
                   ('ij->', [(3, 4)]), ('i,j', [(2,), (3,)])]:
    case('einsum_' + eq.replace(',', '_').replace('->', '_to_').replace('...', 'E'), 'Einsum', [r(*s) for s in shapes], dict(equation=eq), 12)
case('gn_o18', 'GroupNormalization', [r(2, 6, 3), r(3), r(3)], dict(num_groups=3), 18)
case('ln_o17', 'LayerNormalization', [r(2, 3, 4), r(3, 4), r(4)], dict(axis=1), 17, n_out=3)
print(len(os.listdir('cases')), 'cases')
