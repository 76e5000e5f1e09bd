// libFuzzer target, structure-aware: the input is a recipe of edits to a valid data, rollouts or model file
// (wrong ranks and shapes, huge declared shapes without storage, other element types, strings where numbers
// belong, NaN/Inf/huge values, missing objects, groups where datasets belong, attributes of the wrong type or
// size). The file is written with the HDF5 API and read by the same readers as fuzz_data_h5/fuzz_model_h5.
// Byte mutations of whole files mostly hit HDF5's own parser; this target reaches msrom's validation of what a
// well-formed file contains.
//
// Recipe: byte 0 picks the file (data, rollouts, model); then edits of 4 bytes each [op, object, a, b].
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

namespace {

enum class Type { f64, f32, i32, i64, u8, str_fixed, str_vlen };

struct Dataset {
  std::string name;
  std::vector<hsize_t> dims;
  Type type = Type::f64;
  std::vector<double> values;  // row-major, used when the dataset is small enough to be written
  bool present = true, as_group = false;
};

enum class AttrKind { f64, i64, str, strs, f64s, absent };

struct Attribute {
  std::string object, name;
  AttrKind kind = AttrKind::f64;
  std::vector<double> nums;
  std::vector<std::string> strs;
};

struct Recipe {
  std::vector<Dataset> datasets;
  std::vector<Attribute> attributes;
};

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
const double kSpecial[] = {kNaN, kInf, -kInf, 0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324, 1e19, -1e19,
                           2147483648.0, 9.3e18, 1e9, 0.5, 1e-300, 7.0, 2.0, 1e6};
const hsize_t kDims[] = {0, 1, 2, 3, 4, 5, 8, 16, 17, 40, 1000, hsize_t{1} << 20, hsize_t{1} << 31, hsize_t{1} << 40};
const char* kStrings[] = {"", "kgmm", "dsm", "swish", "tanh", "identity", "bogus", "generator", "acf", "x",
                          "langevin", "data", "a b", "1.5", "\xff\xfe"};

hsize_t count(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (auto d : dims) n = (d != 0 && n > std::numeric_limits<hsize_t>::max() / d) ? std::numeric_limits<hsize_t>::max() : n * d;
  return n;
}

// Smooth, deterministic content of the right size.
std::vector<double> pattern(hsize_t n, double scale, double offset) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = offset + scale * std::sin(0.37 * static_cast<double>(i) + 0.1);
  return v;
}

Dataset ds(const std::string& name, std::vector<hsize_t> dims, std::vector<double> values) {
  Dataset d;
  d.name = name;
  d.dims = std::move(dims);
  d.values = std::move(values);
  return d;
}

Attribute num(const std::string& object, const std::string& name, double v) { return {object, name, AttrKind::f64, {v}, {}}; }
Attribute str(const std::string& object, const std::string& name, const std::string& v) {
  return {object, name, AttrKind::str, {}, {v}};
}

Recipe data_file(bool rollouts) {
  Recipe r;
  std::vector<double> t(40);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = 0.1 * static_cast<double>(i + 1);
  r.datasets.push_back(ds("/time", {40}, t));
  const std::string state = rollouts ? "/ensemble/state" : "/state";
  r.datasets.push_back(ds(state, {3, 40, 1}, pattern(120, 1.3, 0.05)));
  if (rollouts) {
    r.datasets.push_back(ds("/ensemble/status", {3}, {0, 0, 1}));
    r.attributes.push_back(str("/", "model", "langevin"));
  } else {
    r.attributes.push_back({"/", "seed", AttrKind::i64, {7}, {}});
    r.attributes.push_back(str("/", "system", "bistable"));
    r.attributes.push_back({state, "names", AttrKind::strs, {}, {"x"}});
    r.attributes.push_back(num(state, "dt", 1e-3));
  }
  return r;
}

Recipe model_file() {
  Recipe r;
  r.datasets.push_back(ds("/normalization/mean", {1}, {0.1}));
  r.datasets.push_back(ds("/normalization/std", {1}, {0.9}));
  // widths [1, 4, 1]: 4 + 4 + 4 + 1 = 13 parameters.
  r.datasets.push_back(ds("/score/mlp/params", {13}, pattern(13, 0.5, 0.0)));
  r.datasets.push_back(ds("/score/mlp/widths", {3}, {1, 4, 1}));
  r.datasets.push_back(ds("/score/centroids", {5, 1}, {-1.5, -0.7, 0, 0.7, 1.5}));
  r.datasets.push_back(ds("/score/values", {5, 1}, {1.5, 0.7, 0, -0.7, -1.5}));
  r.datasets.push_back(ds("/score/divergence", {5}, {-1, -1, -1, -1, -1}));
  r.datasets.push_back(ds("/score/counts", {5}, {10, 20, 30, 20, 10}));
  for (const char* n : {"/langevin/Phi", "/langevin/Phi_generator", "/langevin/Phi_acf", "/langevin/Sigma"})
    r.datasets.push_back(ds(n, {1, 1}, {0.5}));
  r.attributes.push_back(str("/score/mlp", "activation", "swish"));
  r.attributes.push_back(num("/score/mlp", "sigma", 0.05));
  r.attributes.push_back(str("/score/mlp", "method", "kgmm"));
  r.attributes.push_back(num("/score/mlp", "clock_frequency", 0.0));
  r.attributes.push_back(str("/langevin/Phi", "source", "acf"));
  r.attributes.push_back(num("/langevin/Phi_generator", "lag", 1.0));
  return r;
}

class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool more() const { return i_ < n_; }
  std::uint8_t next() { return i_ < n_ ? d_[i_++] : 0; }

 private:
  const std::uint8_t* d_;
  std::size_t n_, i_ = 0;
};

void refill(Dataset& d) {
  const hsize_t n = count(d.dims);
  if (n <= 4096 && n != d.values.size()) {
    auto old = d.values;
    d.values = pattern(n, 1.0, 0.0);
    for (std::size_t i = 0; i < d.values.size() && i < old.size(); ++i) d.values[i] = old[i];
  }
}

void apply(Recipe& r, Bytes& in) {
  while (in.more()) {
    const int op = in.next() % 9;
    const std::uint8_t which = in.next(), a = in.next(), b = in.next();
    Dataset& d = r.datasets[which % r.datasets.size()];
    const double special = kSpecial[a % (sizeof kSpecial / sizeof kSpecial[0])];
    switch (op) {
      case 0: {  // rank and shape
        d.dims.resize(a % 4);
        for (std::size_t k = 0; k < d.dims.size(); ++k) d.dims[k] = kDims[(b + 5 * k) % (sizeof kDims / sizeof kDims[0])];
        refill(d);
        break;
      }
      case 1:  // one extent
        if (!d.dims.empty()) d.dims[a % d.dims.size()] = kDims[b % (sizeof kDims / sizeof kDims[0])];
        refill(d);
        break;
      case 2:  // element type
        d.type = static_cast<Type>(a % 7);
        break;
      case 3:  // one value
        if (!d.values.empty()) d.values[b % d.values.size()] = special;
        break;
      case 4:  // every value
        for (auto& v : d.values) v = special;
        break;
      case 5:  // scale (huge, tiny, sign, NaN)
        for (auto& v : d.values) v *= special;
        break;
      case 6:  // missing, or a group in its place
        d.present = (a % 3) != 0;
        d.as_group = (a % 3) == 2;
        break;
      case 7: {  // an attribute: type, size, value, or absent
        if (r.attributes.empty()) break;
        Attribute& at = r.attributes[which % r.attributes.size()];
        at.kind = static_cast<AttrKind>(a % 6);
        const std::size_t n = b % 4;
        at.nums.assign(at.kind == AttrKind::f64s ? n : 1, special);
        at.strs.assign(at.kind == AttrKind::strs ? n : 1, kStrings[b % (sizeof kStrings / sizeof kStrings[0])]);
        break;
      }
      case 8:  // an attribute moved to another object (a dataset of the file, or the root)
        if (!r.attributes.empty()) {
          Attribute& at = r.attributes[which % r.attributes.size()];
          at.object = (a % 4 == 0) ? "/" : r.datasets[b % r.datasets.size()].name;
        }
        break;
    }
  }
}

hid_t file_type(Type t) {
  switch (t) {
    case Type::f64: return H5Tcopy(H5T_IEEE_F64LE);
    case Type::f32: return H5Tcopy(H5T_IEEE_F32LE);
    case Type::i32: return H5Tcopy(H5T_STD_I32LE);
    case Type::i64: return H5Tcopy(H5T_STD_I64LE);
    case Type::u8: return H5Tcopy(H5T_STD_U8LE);
    case Type::str_fixed: {
      hid_t s = H5Tcopy(H5T_C_S1);
      H5Tset_size(s, 8);
      return s;
    }
    case Type::str_vlen: {
      hid_t s = H5Tcopy(H5T_C_S1);
      H5Tset_size(s, H5T_VARIABLE);
      return s;
    }
  }
  return -1;
}

void write_dataset(hid_t file, hid_t lcpl, const Dataset& d) {
  if (!d.present) return;
  if (d.as_group) {
    hid_t g = H5Gcreate2(file, d.name.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0) H5Gclose(g);
    return;
  }
  hid_t space = d.dims.empty() ? H5Screate(H5S_SCALAR)
                               : H5Screate_simple(static_cast<int>(d.dims.size()), d.dims.data(), nullptr);
  if (space < 0) return;
  hid_t type = file_type(d.type);
  hid_t set = H5Dcreate2(file, d.name.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t n = count(d.dims);
  if (set >= 0 && n > 0 && n <= 4096 && d.values.size() == n) {
    if (d.type == Type::str_fixed) {
      std::vector<char> buf(static_cast<std::size_t>(n) * 8, '\0');
      for (std::size_t i = 0; i < n; ++i) std::snprintf(&buf[i * 8], 8, "%g", d.values[i]);
      H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    } else if (d.type == Type::str_vlen) {
      std::vector<std::string> text(static_cast<std::size_t>(n));
      std::vector<const char*> p;
      for (std::size_t i = 0; i < n; ++i) {
        char b[32];
        std::snprintf(b, sizeof b, "%g", d.values[i]);
        text[i] = b;
        p.push_back(text[i].c_str());
      }
      H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
    } else {
      // HDF5 converts the doubles to the file type (clipping out-of-range values).
      H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.values.data());
    }
  }
  if (set >= 0) H5Dclose(set);
  H5Tclose(type);
  H5Sclose(space);
}

void write_attribute(hid_t file, const Attribute& at) {
  if (at.kind == AttrKind::absent) return;
  if (at.object != "/" && H5Lexists(file, at.object.c_str(), H5P_DEFAULT) <= 0) return;
  hid_t obj = H5Oopen(file, at.object.c_str(), H5P_DEFAULT);
  if (obj < 0) return;
  hid_t type = -1, space = -1;
  std::vector<const char*> p;
  const void* buf = nullptr;
  std::int64_t i64 = 0;
  switch (at.kind) {
    case AttrKind::f64:
      type = H5Tcopy(H5T_NATIVE_DOUBLE), space = H5Screate(H5S_SCALAR), buf = at.nums.data();
      break;
    case AttrKind::i64:
      i64 = std::isfinite(at.nums[0]) && std::fabs(at.nums[0]) < 9e18 ? static_cast<std::int64_t>(at.nums[0]) : -1;
      type = H5Tcopy(H5T_NATIVE_INT64), space = H5Screate(H5S_SCALAR), buf = &i64;
      break;
    case AttrKind::str:
    case AttrKind::strs: {
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, H5T_VARIABLE);
      for (const auto& s : at.strs) p.push_back(s.c_str());
      const hsize_t n = p.size();
      space = at.kind == AttrKind::str ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
      buf = p.data();
      break;
    }
    case AttrKind::f64s: {
      const hsize_t n = at.nums.size();
      type = H5Tcopy(H5T_NATIVE_DOUBLE), space = H5Screate_simple(1, &n, nullptr), buf = at.nums.data();
      break;
    }
    case AttrKind::absent:
      break;
  }
  if (H5Aexists(obj, at.name.c_str()) > 0) H5Adelete(obj, at.name.c_str());
  hid_t a = H5Acreate2(obj, at.name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) {
    if (!(at.kind == AttrKind::strs && p.empty()) && !(at.kind == AttrKind::f64s && at.nums.empty()))
      H5Awrite(a, type, buf);
    H5Aclose(a);
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Oclose(obj);
}

bool write_recipe(const std::string& path, const Recipe& r) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return false;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  for (const auto& d : r.datasets) write_dataset(file, lcpl, d);
  for (const auto& at : r.attributes) write_attribute(file, at);
  H5Pclose(lcpl);
  H5Fclose(file);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  msrom::fuzz::init(argc, argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, size);
  const int kind = in.next() % 3;
  Recipe r = kind == 2 ? model_file() : data_file(kind == 1);
  apply(r, in);
  const std::string path = msrom::fuzz::scratch_path("recipe.h5");
  if (!write_recipe(path, r)) std::abort();
  if (kind == 2)
    msrom::fuzz::read_as_model(path);
  else
    msrom::fuzz::read_as_data(path);
  std::remove(path.c_str());
  return 0;
}
