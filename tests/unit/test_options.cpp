// Typed options: values, defaults, validation messages naming the option, unknown-option detection.
#include <catch2/catch.hpp>

#include <petscsys.h>

#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/progress.hpp"

using msrom::InputError;
using msrom::Options;

namespace {
struct Set {
  std::string name;
  Set(const std::string& n, const char* v) : name(n) { PetscOptionsSetValue(nullptr, ("-" + n).c_str(), v); }
  ~Set() { PetscOptionsClearValue(nullptr, ("-" + name).c_str()); }
};
}  // namespace

TEST_CASE("Options return values, defaults and lists", "[options]") {
  Options o("test");
  Set a("t_real", "2.5e-3"), b("t_int", "1e6"), c("t_flag", nullptr), d("t_list", "0.5,1,2"), e("t_choice", "b");
  CHECK(o.real("t_real", 1.0, "") == 2.5e-3);
  CHECK(o.real("t_absent", 1.25, "") == 1.25);
  CHECK(o.integer("t_int", 0, "") == 1000000);
  CHECK(o.flag("t_flag", false, ""));
  CHECK(o.reals("t_list", {}, "") == std::vector<double>{0.5, 1, 2});
  CHECK(o.choice("t_choice", "a", {"a", "b"}, "") == "b");
  CHECK(Options::given("t_real"));
  CHECK_FALSE(Options::given("t_absent"));
}

TEST_CASE("Invalid option values are input errors naming the option", "[options]") {
  Options o("test");
  {
    Set s("t_dt", "abc");
    CHECK_THROWS_WITH(o.real("t_dt", 1.0, ""), Catch::Contains("-t_dt") && Catch::Contains("not a number"));
  }
  {
    Set s("t_dt", "-1");
    CHECK_THROWS_WITH(o.positive("t_dt", 1.0, ""), Catch::Contains("-t_dt: must be > 0"));
  }
  {
    Set s("t_n", "2.5");
    CHECK_THROWS_WITH(o.integer("t_n", 1, ""), Catch::Contains("-t_n: not an integer"));
  }
  {
    Set s("t_n", "0");
    CHECK_THROWS_AS(o.integer("t_n", 1, "", 1), InputError);
  }
  {
    Set s("t_c", "z");
    CHECK_THROWS_WITH(o.choice("t_c", "a", {"a", "b"}, ""), Catch::Contains("must be one of a, b"));
  }
  {
    Set s("t_f", "maybe");
    CHECK_THROWS_AS(o.flag("t_f", true, ""), InputError);
  }
  {
    Set s("t_x", "inf");
    CHECK_THROWS_WITH(o.real("t_x", 0, ""), Catch::Contains("finite"));
  }
}

TEST_CASE("An option that nothing read is rejected by name", "[options]") {
  Options o("test");
  Set a("t_read", "1"), b("t_typo", "2");
  o.real("t_read", 0, "");
  CHECK_THROWS_WITH(msrom::reject_unused_options(), Catch::Contains("-t_typo: unknown option"));
  o.real("t_typo", 0, "");
  CHECK_NOTHROW(msrom::reject_unused_options());
}

TEST_CASE("The ETA of a restarted run counts only the work of this run", "[options][progress]") {
  // 100 of 1000 steps in 10 s from the start: 900 left at 10 steps/s.
  CHECK(msrom::progress_eta(10, 1000, 100, 0) == Approx(90));
  // Restarted at step 500: 100 steps in 10 s is still 10 steps/s, and 400 are left.
  CHECK(msrom::progress_eta(10, 1000, 600, 500) == Approx(40));
  // Nothing done yet in this run: no estimate.
  CHECK(msrom::progress_eta(3, 1000, 500, 500) == 0);
  CHECK(msrom::progress_eta(0, 1000, 0, 0) == 0);
}
