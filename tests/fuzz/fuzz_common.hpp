#pragma once
// Shared parts of the libFuzzer targets (tests/fuzz/fuzz_*.cpp; docs/hardening.md).
//
// Every target initialises MPI and PETSc once (LLVMFuzzerInitialize -> init()) and then, per input, runs the
// project's real readers on it. The outcome contract is the program's: an msrom::InputError (bad input,
// exit 2) or msrom::RuntimeError (exit 1) is an expected result; anything else is a finding:
//   - a crash, an ASan report or UB (the build has -fno-sanitize-recover=undefined), found by the sanitizers;
//   - any other exception (std::bad_alloc, std::length_error, std::out_of_range, ...), which the program would
//     report as an "internal error": stage() prints it and aborts, so libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace msrom {
class Session;
}

namespace msrom::fuzz {

// MPI + PETSc (a Session that is never destroyed: libFuzzer exits without returning to main), HDF5's error
// printing off, and a private scratch directory ($TMPDIR/msrom_fuzz_<pid>). `options_file`: a file name the
// Session registers as -options_file_yaml (the options target rewrites it per input and calls
// session().load_options()).
void init(int* argc, char*** argv, const std::string& options_file = "");
Session& session();
const std::string& scratch();
std::string scratch_path(const std::string& name);
void write_file(const std::string& path, const std::uint8_t* data, std::size_t size);

// Runs `f`; msrom's own errors are the expected outcome (counted; the first few RuntimeError messages are
// printed once, as a hint that bad input was classified as a runtime failure). Any other exception aborts.
void stage(const char* name, const std::function<void()>& f);

// The readers of each kind of file, as the commands call them (every call its own stage):
//   data:     learn-score/learn-drift/learn-forcing's read_training_data (plain and clock-augmented), a tiny
//             learn-score (kgmm and dsm), stats, and evaluate with the file as -data and as -rollouts;
//   model:    learn-drift's ScoreModel::load, ensemble/learn-forcing's LangevinModel::load, the phase current of
//             clock models (on a small grid), the ensemble's make_rom, a drift evaluation and a short ensemble
//             run of the loaded model.
void read_as_data(const std::string& path);
void read_as_model(const std::string& path);

// Valid files from the committed seed corpus (the other operand of evaluate).
std::string seed_file(const std::string& target, const std::string& name);

}  // namespace msrom::fuzz
