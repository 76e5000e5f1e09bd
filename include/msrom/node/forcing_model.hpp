#pragma once
// A learned forcing group of model.h5, ready to integrate: /forcing (learn-forcing: the NODE ensemble of the
// residual forcing) or /baseline_node (learn-forcing -forcing_series state: a NODE on delay vectors of the slow
// variable itself, the forecast baseline). Holds
//
//   nets            the trained NODEs du/dt = NN(u), u the delay vector [r_hat_t; r_hat_{t-tau}; ...] (m d rows)
//   mean, std       the series' normalisation r = mean + std r_hat (per component, d entries)
//   gain            the fitted amplitude factor of the hybrid ROM's forcing, std gain r_hat (learn_forcing.hpp,
//                   step 6; 1 when the file has none)
//   node_mean       each NODE's free-run mean of r_hat (d x members; the hybrid ROM centres on it; 0 if none)
//   white           the diffusion of the white-noise closure (d; learn_forcing.hpp step 6; 0 if none)
//   dt              the sample spacing the NODEs were trained at (their RK4 step)
//   m, tau          the embedding (tau in samples of dt)
//   initial_states  data delay vectors (m d x bank) for ensembles that start without data at hand
//   phi_source      the Phi of /langevin the residual was taken against ("generator" | "acf")
#include <Eigen/Core>

#include <string>
#include <vector>

#include "msrom/nn/mlp.hpp"

namespace msrom::h5 {
class File;
}

namespace msrom::node {

struct ForcingModel {
  std::vector<nn::Mlp> nets;
  Eigen::VectorXd mean, std, gain;
  Eigen::MatrixXd node_mean;
  Eigen::VectorXd white;
  double dt = 0;
  int m = 1;
  Eigen::Index tau = 1;
  std::string group, series = "residual", phi_source;
  Eigen::MatrixXd initial_states;

  int dim() const { return static_cast<int>(mean.size()); }
  int state_dim() const { return m * dim(); }
  int members() const { return static_cast<int>(nets.size()); }
  // The hybrid ROM's closure of the forcing's missing long-run variance (rom/hybrid.hpp): "white" (gain 1,
  // centred, plus white noise of diffusion `white`), "gain" (the fitted gain, centred, no white noise) or
  // "none" (gain 1, uncentred: the residual's own normalisation, mean + std r_hat). InputError otherwise.
  void use_closure(const std::string& closure);
  // Gives gain, node_mean and white their unfitted values (1, 0, 0) where they are unset or mis-sized (a model
  // built in code); load() always sets them.
  void default_fit();
  // InputError naming the file and group if it is missing or inconsistent (`option` names the file's option).
  static ForcingModel load(const h5::File& file, const std::string& group, const std::string& option = "-model");
};

}  // namespace msrom::node
