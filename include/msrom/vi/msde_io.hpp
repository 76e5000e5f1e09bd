#pragma once
// Files, normalisation and the augmentation schedule of the multiscale model (issue 7, stage 2; docs/vi.md
// section 8).
//
// A model file holds one group per stage of the schedule n_eta = 0 -> 1 -> ... (group /msde/eta_<k>):
//   /msde                      attributes: stages (the n_eta of each stored stage, in order), final (the last)
//   /msde/eta_<k>/params [P]   the flat vector of MsdeModel::get_params
//   /msde/eta_<k>              attributes: every MsdeConfig field (n_y, n_zeta, n_eta, stencil_radius,
//                              macro_hidden, micro_hidden, activation, cnn_kernel, cnn_channels, cnn_stride,
//                              filter_std, the rho inits, gp_lengthscale, gp_nugget, gp_warp_hidden,
//                              gp_warp_activation, seed), segments (names), and the data normalisation
//                              norm_mean, norm_scale:  y_model = (y - norm_mean) / norm_scale
//   /msde/eta_<k>/history/{loss,log_likelihood,drift_residual,beta,lr} [iterations]  (the ELBO curve)
// Loading rebuilds the model from the attributes and checks the segment names and the parameter count:
// bad content is an InputError naming the option, the file and the object.
//
// Stage initialisation (the schedule: each stage starts from the previous one): a model with n_eta = k is
// built (Xavier-normal weights, zero biases) and every parameter that has a counterpart in the previous
// model (n_eta = j < k) takes its value. The latent layout z = [zeta; eta] puts the old components first,
// so the copied blocks are: whole components that do not depend on n_eta (filter, GP, CNNs, ConvTs,
// decoder variances); the first D_j entries of the encoder variance and diffusion; the macro drift's
// input columns of the stencil and eta_1..eta_j; the micro drift's input columns z_1..z_{D_j} and output
// rows eta_1..eta_j; the encoder linear layer's output rows and the decoder linear layer's input columns
// of eta_1..eta_j. New couplings start from the Xavier draw of the new model (biases 0).
#include <Eigen/Core>

#include <string>
#include <vector>

#include "msrom/core/hdf5.hpp"
#include "msrom/vi/msde_model.hpp"
#include "msrom/vi/train.hpp"

namespace msrom::vi {

struct Normalisation {
  double mean = 0, scale = 1;  // y_model = (y - mean) / scale
};
// Mean and standard deviation (population) over every value of the trajectories; scale 1 if it is 0.
Normalisation fit_normalisation(const Trajectories& data);
// In place: u <- (u - mean) / scale for every trajectory.
void normalise(Trajectories& data, const Normalisation& n);

struct StageHistory {
  std::vector<double> loss, log_likelihood, drift_residual, beta, lr;
};

// Writes /msde/eta_<n_eta> (see top of file); rank 0 writes, every rank of the file's comm calls it.
void save_msde(h5::OutputFile& out, const MsdeModel& model, const Normalisation& norm,
               const StageHistory* history = nullptr);
// The /msde attributes stages and final.
void save_msde_index(h5::OutputFile& out, const std::vector<int>& stages);

struct LoadedMsde {
  MsdeModel model;
  Normalisation norm;
};
// The stages stored in a model file (InputError naming option and file if there is no /msde).
std::vector<int> msde_stages(const h5::File& f, const std::string& option);
// Loads stage n_eta (-1: the final stage). InputError naming option, file and object on bad content.
LoadedMsde load_msde(const std::string& path, int n_eta = -1, const std::string& option = "-model");
LoadedMsde load_msde(const h5::File& f, int n_eta, const std::string& option);
// True if `path` is a readable HDF5 file with a /msde group (never throws).
bool is_msde_file(const std::string& path);

// Copies into `next` every parameter of `prev` that has a counterpart (see top of file). InputError if
// the two differ in anything but n_eta, or next.n_eta < prev.n_eta.
void init_from_previous_stage(MsdeModel& next, const MsdeModel& prev);

}  // namespace msrom::vi
