// oneDNN engine singleton and helpers.
#include "backends/cpu/onednn.hpp"

#include "core/error.hpp"

namespace kiln::cpu {

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc plain_f32_desc(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return dnnl::memory::desc(to_dnnl_dims(shape), dnnl::memory::data_type::f32,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

void run_primitive(const dnnl::primitive& prim, const std::unordered_map<int, dnnl::memory>& args) {
  try {
    dnnl::stream stream(onednn_engine());
    prim.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    fail(ErrorCode::kInternal, "oneDNN failed: ", e.what());
  }
}

}  // namespace kiln::cpu
