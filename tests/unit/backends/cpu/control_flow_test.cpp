// If, Loop and Scan on the CPU backend, on hand-built graphs: branch selection with captured outer
// values, an If nested in a Loop body, early exit, zero-trip loops, scan axes and directions, and
// the errors for bad conditions, counts and runaway loops.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "unit/control_flow_test_util.hpp"
#include "unit/op_test_util.hpp"

namespace kiln::test {
namespace {

template <typename Fn>
std::string error_of(Fn fn, ErrorCode expected = ErrorCode::kInvalidArgument) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an Error";
  return "";
}

TEST(IfKernel, RunsTheSelectedBranchOnCapturedValues) {
  Tensor x = floats({3}, {1, 2, 3});
  Tensor y = floats({3}, {10, 20, 30});
  auto then_out = run_graph(if_with_captures(), {{"cond", scalar_bool(true)}, {"x", x}, {"y", y}});
  EXPECT_EQ(values<float>(then_out[0]), (std::vector<float>{11, 22, 33}));
  auto else_out = run_graph(if_with_captures(), {{"cond", scalar_bool(false)}, {"x", x}, {"y", y}});
  EXPECT_EQ(values<float>(else_out[0]), (std::vector<float>{10, 40, 90}));
}

TEST(IfKernel, BranchesMayReturnDifferentShapes) {
  // then: the captured [2] tensor itself; else: a [3] constant. The output shape is data-dependent.
  GraphBuilder then_b("then");
  then_b.output(then_b.input("x", DataType::kFloat32, std::nullopt));
  GraphBuilder else_b("else");
  else_b.input("x", DataType::kFloat32, std::nullopt);
  else_b.output(else_b.constant("k", floats({3}, {7, 8, 9})));
  GraphBuilder main("g");
  ir::Value* cond = main.input("cond", DataType::kBool, ir::SymShape{});
  ir::Value* x = main.input("x", DataType::kFloat32, ir::SymShape{2});
  main.output(main.op("If", {cond, x}, "out",
                      attrs({{"then_branch", then_b.subgraph()},
                             {"else_branch", else_b.subgraph()},
                             {"num_captures", int64_t{1}}})));
  auto g = main.finish();
  EXPECT_EQ(ir::sym_shape_to_string(g->outputs()[0]->shape), "[?]");
  auto a = run_graph(g->clone(), {{"cond", scalar_bool(true)}, {"x", floats({2}, {1, 2})}});
  EXPECT_EQ(values<float>(a[0]), (std::vector<float>{1, 2}));
  auto b = run_graph(std::move(g), {{"cond", scalar_bool(false)}, {"x", floats({2}, {1, 2})}});
  EXPECT_EQ(values<float>(b[0]), (std::vector<float>{7, 8, 9}));
}

TEST(IfKernel, RefusesAConditionThatIsNotOneBool) {
  GraphBuilder then_b("then");
  then_b.output(then_b.constant("a", floats({}, {1})));
  GraphBuilder else_b("else");
  else_b.output(else_b.constant("b", floats({}, {2})));
  GraphBuilder main("g");
  ir::Value* cond = main.input("cond", DataType::kBool, std::nullopt);  // rank unknown
  main.output(
      main.op("If", {cond}, "out",
              attrs({{"then_branch", then_b.subgraph()}, {"else_branch", else_b.subgraph()}})));
  auto g = main.finish();
  Tensor two = Tensor::from_vector(DataType::kBool, {2}, std::vector<uint8_t>{1, 0});
  std::string msg = error_of([&] { run_graph(std::move(g), {{"cond", two}}); });
  EXPECT_NE(msg.find("node 'If_0' (If)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("one element"), std::string::npos) << msg;
}

TEST(LoopKernel, RunsANestedIfEachIteration) {
  // acc: [0,0,0] -> +x (i=0) -> -1 (i=1) -> +x (i=2) -> -1 (i=3)
  Tensor x = floats({3}, {1, 2, 3});
  auto out = run_graph(loop_with_nested_if(),
                       {{"M", scalar_i64(4)}, {"x", x}, {"acc0", floats({3}, {0, 0, 0})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 2, 4}));
  EXPECT_EQ(out[1].shape(), (Shape{4, 3}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{1, 2, 3, 0, 1, 2, 1, 3, 5, 0, 2, 4}));
}

TEST(LoopKernel, CountedLoopHasAStaticScanShape) {
  auto g = loop_with_nested_if();
  // M is a runtime input, so the trip count is unknown at build time; the rest is known.
  EXPECT_EQ(ir::sym_shape_to_string(g->outputs()[0]->shape), "[3]");
  EXPECT_EQ(ir::sym_shape_to_string(g->outputs()[1]->shape), "[?,3]");
}

TEST(LoopKernel, StopsWhenTheBodyConditionTurnsFalse) {
  auto out = run_graph(loop_doubling_until(), {{"M", scalar_i64(100)},
                                               {"go", scalar_bool(true)},
                                               {"acc0", floats({}, {1})},
                                               {"limit", floats({}, {20})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{32}));
  EXPECT_EQ(out[1].shape(), (Shape{5}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{2, 4, 8, 16, 32}));
}

TEST(LoopKernel, StopsAtTheTripCount) {
  auto out = run_graph(loop_doubling_until(), {{"M", scalar_i64(2)},
                                               {"go", scalar_bool(true)},
                                               {"acc0", floats({}, {1})},
                                               {"limit", floats({}, {1000})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{4}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{2, 4}));
}

TEST(LoopKernel, ZeroTripsGiveTheInitialValuesAndEmptyScans) {
  auto counted = run_graph(
      loop_with_nested_if(),
      {{"M", scalar_i64(0)}, {"x", floats({3}, {1, 2, 3})}, {"acc0", floats({3}, {4, 5, 6})}});
  EXPECT_EQ(values<float>(counted[0]), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(counted[1].shape(), (Shape{0, 3}));  // the slice shape comes from the body

  auto negative = run_graph(
      loop_with_nested_if(),
      {{"M", scalar_i64(-5)}, {"x", floats({3}, {1, 2, 3})}, {"acc0", floats({3}, {4, 5, 6})}});
  EXPECT_EQ(negative[1].shape(), (Shape{0, 3}));

  auto not_started = run_graph(loop_doubling_until(), {{"M", scalar_i64(10)},
                                                       {"go", scalar_bool(false)},
                                                       {"acc0", floats({}, {3})},
                                                       {"limit", floats({}, {100})}});
  EXPECT_EQ(values<float>(not_started[0]), (std::vector<float>{3}));
  EXPECT_EQ(not_started[1].shape(), (Shape{0}));
}

TEST(LoopKernel, EachContextRunsIndependently) {
  auto engine = build_cpu_engine(loop_with_nested_if());
  auto a = engine->create_execution_context();
  auto b = engine->create_execution_context();
  std::map<std::string, Tensor> feeds{
      {"M", scalar_i64(3)}, {"x", floats({3}, {1, 1, 1})}, {"acc0", floats({3}, {0, 0, 0})}};
  auto ra = a->execute(feeds);
  auto rb = b->execute(feeds);
  auto ra2 = a->execute(feeds);  // a second run starts from the initial values again
  EXPECT_EQ(values<float>(ra[0]), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(values<float>(rb[0]), values<float>(ra[0]));
  EXPECT_EQ(values<float>(ra2[0]), values<float>(ra[0]));
}

// A Loop whose body passes its carried value through; `m` and `cond` may be omitted (nullptr).
std::unique_ptr<ir::Graph> pass_through_loop(bool with_m, bool with_cond) {
  GraphBuilder body("body");
  body.input("i", DataType::kInt64, ir::SymShape{});
  ir::Value* go = body.input("go", DataType::kBool, ir::SymShape{});
  ir::Value* v = body.input("v", DataType::kFloat32, std::nullopt);
  body.output(body.op("Identity", {go}, "go_out"));
  body.output(body.op("Identity", {v}, "v_out"));
  GraphBuilder main("g");
  ir::Value* m = with_m ? main.input("M", DataType::kInt64, ir::SymShape{}) : nullptr;
  ir::Value* cond = with_cond ? main.input("cond", DataType::kBool, ir::SymShape{}) : nullptr;
  ir::Value* v0 = main.input("v0", DataType::kFloat32, ir::SymShape{2});
  main.output(main.op("Loop", {m, cond, v0}, "v", attrs({{"body", body.subgraph()}})));
  return main.finish();
}

TEST(LoopKernel, RefusesALoopThatCannotEnd) {
  std::string msg = error_of([] {
    run_graph(pass_through_loop(false, false), {{"v0", floats({2}, {1, 2})}});
  });
  EXPECT_NE(msg.find("(Loop)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("never end"), std::string::npos) << msg;

  msg = error_of([] {
    run_graph(pass_through_loop(true, false),
              {{"M", scalar_i64(int64_t{1} << 40)}, {"v0", floats({2}, {1, 2})}});
  });
  EXPECT_NE(msg.find("iterations"), std::string::npos) << msg;
}

TEST(LoopKernel, RefusesABadTripCountOrCondition) {
  // Inputs of unknown rank get past build-time checks; the kernel then names the node.
  auto bad_m = pass_through_loop(true, false);
  bad_m->inputs()[0]->shape = std::nullopt;
  std::string msg = error_of([&] {
    run_graph(std::move(bad_m),
              {{"M", Tensor::from_vector(DataType::kInt64, {2}, std::vector<int64_t>{1, 2})},
               {"v0", floats({2}, {1, 2})}});
  });
  EXPECT_NE(msg.find("(Loop)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("one element"), std::string::npos) << msg;

  auto bad_cond = pass_through_loop(true, true);
  bad_cond->inputs()[1]->shape = std::nullopt;
  msg = error_of([&] {
    run_graph(std::move(bad_cond),
              {{"M", scalar_i64(3)},
               {"cond", Tensor::from_vector(DataType::kBool, {2}, std::vector<uint8_t>{1, 1})},
               {"v0", floats({2}, {1, 2})}});
  });
  EXPECT_NE(msg.find("(Loop)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("condition"), std::string::npos) << msg;
}

TEST(LoopKernel, CarriedValuesThatChangeShapeAreWidened) {
  // v = Concat(v, v) each iteration: [1] -> [2] -> [4]; the body's input shape must not stay [1].
  GraphBuilder body("body");
  body.input("i", DataType::kInt64, ir::SymShape{});
  ir::Value* go = body.input("go", DataType::kBool, ir::SymShape{});
  ir::Value* v = body.input("v", DataType::kFloat32, ir::SymShape{1});  // declared too narrowly
  body.output(body.op("Identity", {go}, "go_out"));
  body.output(body.op("Concat", {v, v}, "vv", attrs({{"axis", int64_t{0}}})));
  GraphBuilder main("g");
  ir::Value* m = main.input("M", DataType::kInt64, ir::SymShape{});
  ir::Value* v0 = main.input("v0", DataType::kFloat32, ir::SymShape{1});
  main.output(main.op("Loop", {m, nullptr, v0}, "v", attrs({{"body", body.subgraph()}})));
  auto g = main.finish();
  EXPECT_EQ(ir::sym_shape_to_string(g->outputs()[0]->shape), "[?]");
  auto out = run_graph(std::move(g), {{"M", scalar_i64(2)}, {"v0", floats({1}, {5})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 5, 5, 5}));
}

// Scan over axis 1 of x[2,3] in reverse, summing into a [2] state; the per-step sums are stacked
// along output axis 1, also in reverse, which gives suffix sums in place.
std::unique_ptr<ir::Graph> reverse_suffix_sum_scan() {
  GraphBuilder body("body");
  ir::Value* s = body.input("s", DataType::kFloat32, std::nullopt);
  ir::Value* col = body.input("col", DataType::kFloat32, std::nullopt);
  ir::Value* next = body.op("Add", {s, col}, "next");
  body.output(next);
  body.output(body.op("Identity", {next}, "step"));
  GraphBuilder main("g");
  ir::Value* s0 = main.input("s0", DataType::kFloat32, ir::SymShape{2});
  ir::Value* x = main.input("x", DataType::kFloat32, ir::SymShape{2, 3});
  auto outs = main.op_n("Scan", {s0, x}, {"total", "sums"},
                        attrs({{"body", body.subgraph()},
                               {"num_scan_inputs", int64_t{1}},
                               {"scan_input_axes", std::vector<int64_t>{1}},
                               {"scan_input_directions", std::vector<int64_t>{1}},
                               {"scan_output_axes", std::vector<int64_t>{-1}},
                               {"scan_output_directions", std::vector<int64_t>{1}}}));
  main.output(outs[0]);
  main.output(outs[1]);
  return main.finish();
}

TEST(ScanKernel, ScansAxesInReverseAndStacksAlongOutputAxes) {
  auto g = reverse_suffix_sum_scan();
  EXPECT_EQ(ir::sym_shape_to_string(g->outputs()[1]->shape), "[2,3]");
  auto out = run_graph(std::move(g),
                       {{"s0", floats({2}, {0, 100})}, {"x", floats({2, 3}, {1, 2, 3, 4, 5, 6})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{6, 115}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{6, 5, 3, 115, 111, 106}));
}

TEST(ScanKernel, EmptySequenceGivesInitialStateAndEmptyOutputs) {
  auto g = reverse_suffix_sum_scan();
  g->inputs()[1]->shape = ir::SymShape{2, ir::Dim()};
  ir::infer_graph(*g);
  auto out = run_graph(std::move(g),
                       {{"s0", floats({2}, {7, 8})}, {"x", Tensor(DataType::kFloat32, {2, 0})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{7, 8}));
  EXPECT_EQ(out[1].shape(), (Shape{2, 0}));
}

}  // namespace
}  // namespace kiln::test
