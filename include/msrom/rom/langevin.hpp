#pragma once
// The Langevin reduced-order model of the slow variables (method doc section 3), in normalised
// coordinates u = (x - mean) / std:
//
//   du = Phi s(u) dt + sqrt(2) Sigma dW,      Sigma Sigma^T = sym(Phi)
//
// With constant Phi its invariant density is exactly p (the density whose score s is), whatever Phi; Phi
// sets the time scale. Two estimates of Phi, both stored in model.h5 (/langevin/Phi_generator,
// /langevin/Phi_acf), the one in use as /langevin/Phi (attribute `source`):
//
//   generator  from the Markov generator of the cluster labels of the NOISE-FREE training data at lag D:
//              M = sum_ij c_j Q_ji pi_i c_i^T = (1/(N D)) sum_t [c(t+D) - c(t)] c(t)^T
//              V = sum_i s_i pi_i c_i^T       = (1/N) sum_t s(c(t)) c(t)^T          (~ -I)
//              Phi = M V^-1
//              (c(t): the centroid of sample t's cluster; no K x K matrix is formed.)
//   acf        Phi_generator scaled by alpha so that the model's integrated autocorrelation time of the
//              first variable equals the data's. Time in the model scales as 1/alpha exactly (for the SDE),
//              so one short ensemble at alpha = 1 gives alpha = tau_model / tau_data.
#include <Eigen/Dense>
#include <string>

#include "msrom/nn/mlp.hpp"
#include "msrom/score/score_model.hpp"

namespace msrom::rom {

struct LangevinModel {
  score::ScoreModel score;
  Eigen::MatrixXd phi, sigma;  // in use: d x d, sigma = lower Cholesky factor of sym(phi)
  Eigen::MatrixXd phi_generator, phi_acf;
  std::string source = "generator";
  double generator_lag = 0;

  // Clock-augmented scores (score.clock_frequency > 0) take [sin wt, cos wt, x]: the model evolves x only
  // (the last dim() components) and builds the clock rows from the true time t.
  int clock_rows() const { return score.clock_frequency > 0 ? 2 : 0; }
  int dim() const { return score.dim() - clock_rows(); }
  Eigen::VectorXd state_mean() const { return score.mean.tail(dim()); }
  Eigen::VectorXd state_std() const { return score.std.tail(dim()); }
  // F = Phi s(t, U) for the columns of U (normalised state coordinates), batched: one matrix product per
  // layer, in cache-sized blocks of members.
  void drift(double t, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F,
             nn::Workspace& ws) const;
  // Selects phi (and sigma) from one of the estimates. InputError if sym(phi) is not positive definite.
  void use(const std::string& which);
  static LangevinModel load(const h5::File& file);  // needs /langevin (learn-drift) and the score

 private:
  // drift()'s scratch (clock-augmented input and output blocks, Phi's d > 1 product), reused every step.
  mutable Eigen::MatrixXd scratch_in_, scratch_out_;
};

// Lower Cholesky factor of sym(Phi); throws InputError if sym(Phi) is not positive definite.
Eigen::MatrixXd noise_factor(const Eigen::MatrixXd& phi);

// The generator estimate from a rank's shard of noise-free normalised samples: `u` is d x n_local, the
// consecutive samples of one or more series; `series_start` marks where a new series begins (pairs never
// cross a series). lag_samples: D / sample spacing. Collective over comm.
Eigen::MatrixXd phi_from_generator(const score::ScoreModel& model, const Eigen::MatrixXd& u,
                                   const std::vector<char>& series_start, long lag_samples, double sample_dt,
                                   MPI_Comm comm);

}  // namespace msrom::rom
