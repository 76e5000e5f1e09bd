#include <algorithm>
#include <map>

#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/systems/lorenz_driver.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {

namespace {
struct Entry {
  std::string description;
  Factory factory;
};
std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> t;
  return t;
}
}  // namespace

Registration::Registration(const std::string& type, const std::string& description, Factory factory) {
  table()[type] = Entry{description, std::move(factory)};
}

std::vector<std::pair<std::string, std::string>> system_types() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, e] : table()) out.emplace_back(k, e.description);
  return out;
}

std::unique_ptr<System> make_system(const Options& opts) {
  std::vector<std::string> names;
  for (const auto& [k, e] : table()) names.push_back(k);
  const std::string type = opts.choice("system_type", "bistable", names, "the system to simulate");
  return table().at(type).factory(opts);
}

LorenzDriver LorenzDriver::read(const Options& opts) {
  LorenzDriver d;
  d.sigma = opts.real("system_sigma", d.sigma, "coupling amplitude sigma of (sigma/eps) y2", 0.0);
  d.eps = opts.positive("system_eps", d.eps, "time-scale separation eps of the fast driver");
  d.s = opts.positive("system_l63_s", d.s, "Lorenz-63 Prandtl number s");
  d.rho = opts.real("system_l63_rho", d.rho, "Lorenz-63 Rayleigh number rho");
  d.b = opts.positive("system_l63_b", d.b, "Lorenz-63 geometric factor b");
  d.inv_eps2 = 1.0 / (d.eps * d.eps);
  d.s_eps2 = d.s * d.inv_eps2;
  d.coupling = d.sigma / d.eps;
  return d;
}

void LorenzDriver::append_parameters(std::vector<std::pair<std::string, double>>& p) const {
  p.insert(p.end(), {{"sigma", sigma}, {"eps", eps}, {"l63_s", s}, {"l63_rho", rho}, {"l63_b", b}});
}

void LorenzDriver::initial_condition(const Philox& rng, double* y) const {
  double z[4];
  rng.normal4(0, 1, z);  // block 1: block 0 is the slow variables'
  y[0] = 1.0 + z[0];
  y[1] = 1.0 + z[1];
  y[2] = 25.0 + z[2];
}

}  // namespace msrom::systems
