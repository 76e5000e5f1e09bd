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
//              V = sum_i s_i pi_i c_i^T       = (1/N) sum_t s(c(t)) c(t)^T   (~ -I; or exactly -I, see
//              Phi = M V^-1                                                   phi_from_generator)
//              (c(t): the centroid of sample t's cluster; no K x K matrix is formed.)
//   acf        Phi_generator scaled by alpha so that the model's integrated autocorrelation time of the
//              first variable equals the data's. Time in the model scales as 1/alpha exactly (for the SDE),
//              so one short ensemble at alpha = 1 gives alpha = tau_model / tau_data.
//
// Clock-driven models (score on [sin wt, cos wt, u], one evolved variable) add the PHASE CURRENT c(u, phase):
// Phi s(u, phase) alone makes each frozen-phase density p(u | phase) stationary, but the phase moves, so the
// model's density lags behind the learned one (the tristable model then over-fills the middle well, whose
// occupancy moves least with the phase). With
//
//   c p = J(u, phase) = -omega int_{-inf}^u d p(u' | phase) / d phase du'
//
// p(u | phase) solves the model's Fokker-Planck equation exactly:  omega d_phase p + d_u[(Phi s + c) p]
// - Phi d_uu p = 0, since Phi s p = Phi d_u p. J is computed from the learned score alone (p by integrating s
// at each phase), tabulated on a phase x u grid when the model is set up, and interpolated bilinearly.
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
  // Tabulates the phase current (top of file) on `phases` x `points` nodes over the centroids' range of u
  // plus a margin (outside it c = 0). Only for a clock-driven model with one evolved variable; a no-op
  // otherwise. drift() adds it from then on.
  void build_phase_current(int phases = 256, int points = 2048);
  bool has_phase_current() const { return current_.size() > 0; }
  // c(u, phase) at one point (tests, figures); 0 without a table.
  double phase_current(double u, double phase) const;
  static LangevinModel load(const h5::File& file);  // needs /langevin (learn-drift) and the score

 private:
  // drift()'s scratch (clock-augmented input and output blocks, Phi's d > 1 product), reused every step.
  mutable Eigen::MatrixXd scratch_in_, scratch_out_;
  Eigen::MatrixXd current_;  // points x phases, phase k = 2 pi k / phases
  double current_u0_ = 0, current_du_ = 1;
  struct PhaseIndex {
    Eigen::Index k0, k1;  // the table columns around a phase
    double a;             // weight of k1
  };
  PhaseIndex phase_index(double phase) const;
  double current_at(double u, const PhaseIndex& at) const;  // bilinear; 0 outside the table
};

// Lower Cholesky factor of sym(Phi); throws InputError if sym(Phi) is not positive definite.
Eigen::MatrixXd noise_factor(const Eigen::MatrixXd& phi);

// The generator estimate from a rank's shard of noise-free normalised samples: `u` is d x n_local, the
// consecutive samples of one or more series; `series_start` marks where a new series begins (pairs never
// cross a series). lag_samples: D / sample spacing. Collective over comm.
// Phi = M V^{-1}, M = <(c(t+D) - c(t)) c(t)^T> / D and V = <s(c) c^T> over the labels' centroids c(t).
// Only the last `evolved` rows of the state are driven by Phi (the clock rows before them are not), so both
// are taken on that block: the moment identity <dx_e c_e^T> = Phi <s_e c_e^T> dt of the evolved components
// alone. evolved <= 0 means all rows. identity_v: V = -I, which is exact for the model's own stationary
// density (integration by parts) and is the choice where the sample average fails: a noise-smoothed score
// evaluated at noise-free samples near sharp walls (the tristable x^6 potential) gives V ~ 0 or even > 0.
Eigen::MatrixXd phi_from_generator(const score::ScoreModel& model, const Eigen::MatrixXd& u,
                                   const std::vector<char>& series_start, long lag_samples, double sample_dt,
                                   MPI_Comm comm, int evolved = 0, bool identity_v = false);

}  // namespace msrom::rom
