// libFuzzer target: arbitrary bytes as a data file (data.h5 / rollouts.h5), read by the commands' readers
// (learn-score, learn-drift, learn-forcing, stats, evaluate; fuzz_common.cpp). Seeds: tests/fuzz/corpus/data_h5.
#include <cstdio>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  msrom::fuzz::init(argc, argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = msrom::fuzz::scratch_path("input.h5");
  msrom::fuzz::write_file(path, data, size);
  msrom::fuzz::read_as_data(path);
  std::remove(path.c_str());
  return 0;
}
