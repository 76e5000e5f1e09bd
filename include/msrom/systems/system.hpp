#pragma once
// Dynamical systems that msrom simulates to make data (the "observations" of Method A).
//
// A system is a small interface: dimension, variable names (slow ones first), right-hand side, default
// parameters read from the options database (-system_type NAME -system_<param> value), and a random
// initial condition. Adding a system is one file: define the right-hand side as a struct and register it
// (see src/systems/bistable.cpp).
//
// Integration is RK4 with a fixed step. The stepping loop is a template over the right-hand side
// (OdeSystem<Rhs>::rk4), so the right-hand side is inlined into the loop: one virtual call per saved
// chunk, none per step. That is what keeps a 4-dimensional member near a plain C loop's speed.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "msrom/core/random.hpp"

namespace msrom {
class Options;
}

namespace msrom::systems {

class System {
 public:
  virtual ~System() = default;
  virtual const std::string& type() const = 0;
  virtual int dim() const = 0;
  // The first slow_dim() components are the slow variables (the ones a reduced model keeps).
  virtual int slow_dim() const = 0;
  virtual std::vector<std::string> names() const = 0;
  // Parameter names and values, for output attributes.
  virtual std::vector<std::pair<std::string, double>> parameters() const = 0;
  virtual void rhs(double t, const double* u, double* dudt) const = 0;
  // A random initial condition drawn from the member's initial-condition stream.
  virtual void initial_condition(const Philox& rng, double* u) const = 0;
  // nsave * stride RK4 steps of size dt from time t0 + step0*dt (times are computed from the step count,
  // not accumulated); after every stride steps the first nout components of u are appended to out
  // (out may be null). u is updated in place.
  virtual void rk4(double t0, std::int64_t step0, double dt, std::int64_t nsave, std::int64_t stride, double* u,
                   double* out, int nout) const = 0;
};

// RK4 for a right-hand side type Rhs with static constexpr int kDim, kSlow and members
//   void operator()(double t, const double* u, double* f) const;
//   std::vector<std::string> names() const; std::vector<std::pair<std::string,double>> parameters() const;
//   void initial_condition(const Philox&, double* u) const;
template <class Rhs>
class OdeSystem final : public System {
 public:
  OdeSystem(std::string type, Rhs rhs) : type_(std::move(type)), f_(std::move(rhs)) {}
  const std::string& type() const override { return type_; }
  int dim() const override { return Rhs::kDim; }
  int slow_dim() const override { return Rhs::kSlow; }
  std::vector<std::string> names() const override { return f_.names(); }
  std::vector<std::pair<std::string, double>> parameters() const override { return f_.parameters(); }
  void rhs(double t, const double* u, double* dudt) const override { f_(t, u, dudt); }
  void initial_condition(const Philox& rng, double* u) const override { f_.initial_condition(rng, u); }

  void rk4(double t0, std::int64_t step0, double dt, std::int64_t nsave, std::int64_t stride, double* u_io,
           double* out, int nout) const override {
    constexpr int n = Rhs::kDim;
    double u[n], k1[n], k2[n], k3[n], k4[n], w[n];
    for (int i = 0; i < n; ++i) u[i] = u_io[i];
    const double h2 = 0.5 * dt, h6 = dt / 6.0;
    std::int64_t step = step0;
    for (std::int64_t s = 0; s < nsave; ++s) {
      for (std::int64_t k = 0; k < stride; ++k, ++step) {
        const double t = t0 + static_cast<double>(step) * dt;
        f_(t, u, k1);
        for (int i = 0; i < n; ++i) w[i] = u[i] + h2 * k1[i];
        f_(t + h2, w, k2);
        for (int i = 0; i < n; ++i) w[i] = u[i] + h2 * k2[i];
        f_(t + h2, w, k3);
        for (int i = 0; i < n; ++i) w[i] = u[i] + dt * k3[i];
        f_(t + dt, w, k4);
        for (int i = 0; i < n; ++i) u[i] += h6 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
      }
      if (out)
        for (int i = 0; i < nout; ++i) *out++ = u[i];
    }
    for (int i = 0; i < n; ++i) u_io[i] = u[i];
  }

 private:
  std::string type_;
  Rhs f_;
};

// Registry: each system file registers a factory under its type name at load time.
using Factory = std::function<std::unique_ptr<System>(const Options&)>;
struct Registration {
  Registration(const std::string& type, const std::string& description, Factory factory);
};
std::vector<std::pair<std::string, std::string>> system_types();  // (type, description), sorted

// Reads -system_type and that system's parameters. InputError naming -system_type if unknown.
std::unique_ptr<System> make_system(const Options& opts);

}  // namespace msrom::systems
