#include "msrom/core/hdf5.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/session.hpp"
#include "msrom/core/version.hpp"

#include <petscsys.h>

namespace msrom::h5 {

namespace {

// HDF5 prints its error stack by default; msrom reports errors itself.
struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
void silence() { static SilenceHdf5 once; }

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) throw RuntimeError("HDF5: " + what);
  return id;
}

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

std::string all_options_text() {
  char* text = nullptr;
  if (PetscOptionsGetAll(nullptr, &text)) return "";
  std::string s = text ? text : "";
  PetscFree(text);
  return s;
}

// File access for an output file: MPI-IO over `comm`, and a STRONG close. With the MPI-IO driver's default
// (SEMI) H5Fclose fails while a dataset or group of the file is still open, and the file then stays open in the
// library for good: a caller that still held a dataset handle at commit() leaked the committed file (found by
// tests/fuzz: every ensemble run left its rollouts file open, so a later run into the same name could fail).
// STRONG closes those objects with the file, so commit() and keep() always close it.
Handle output_fapl(MPI_Comm comm) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  return fapl;
}

Handle vlen_string_type() {
  Handle t(check(H5Tcopy(H5T_C_S1), "string type"), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = -1;
}

// ---------------------------------------------------------------------------------------------- reading
File File::open(const std::string& path, const std::string& option, MPI_Comm comm) {
  silence();
  File f;
  f.path_ = path;
  f.option_ = option;
  const std::string who = (option.empty() ? "" : option + ": ") + "'" + path + "'";
  if (access(path.c_str(), R_OK) != 0) throw InputError(who + ": cannot open (no such file or not readable)");
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (size(comm) > 1) H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) throw InputError(who + ": not an HDF5 file (or corrupt)");
  f.file_ = Handle(id, H5Fclose);
  return f;
}

void File::fail(const std::string& what) const {
  throw InputError((option_.empty() ? "" : option_ + ": ") + "'" + path_ + "': " + what);
}

bool File::exists(const std::string& object) const {
  // Check each path component: H5Lexists fails on a missing intermediate group.
  std::size_t pos = 0;
  while ((pos = object.find('/', pos + 1)) != std::string::npos) {
    if (H5Lexists(id(), object.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return H5Lexists(id(), object.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> File::children(const std::string& group) const {
  std::vector<std::string> names;
  if (!exists(group)) return names;
  auto add = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate_by_name(id(), group.c_str(), H5_INDEX_NAME, H5_ITER_INC, &idx, add, &names, H5P_DEFAULT) < 0)
    fail("cannot list the group " + group);
  return names;
}

Shape File::shape(const std::string& dataset) const {
  if (!exists(dataset)) fail("no dataset " + dataset);
  Handle d(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail(dataset + " is not a dataset");
  Handle s(H5Dget_space(d.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(s.get());
  if (rank < 0) fail("cannot read the shape of " + dataset);
  Shape dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
  // A shape is only as good as the data behind it: a malformed or unfinished file can declare any shape (up to
  // 2^64 elements) without storing it, and the readers size their buffers by the shape (tests/fuzz found
  // allocations of terabytes). Every element must be stored: the space fully allocated and, for the
  // contiguous layout (msrom's), large enough for the shape.
  const hssize_t npoints = H5Sget_simple_extent_npoints(s.get());
  if (npoints < 0) fail("cannot read the shape of " + dataset);
  if (npoints > 0) {
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    if (H5Dget_space_status(d.get(), &status) < 0 || status != H5D_SPACE_STATUS_ALLOCATED)
      fail(dataset + " has no data stored for part of its shape (an unwritten or incomplete file)");
    Handle plist(H5Dget_create_plist(d.get()), H5Pclose);
    Handle type(H5Dget_type(d.get()), H5Tclose);
    const std::size_t tsize = type.valid() ? H5Tget_size(type.get()) : 0;
    if (plist.valid() && H5Pget_layout(plist.get()) == H5D_CONTIGUOUS &&
        (tsize == 0 || H5Dget_storage_size(d.get()) / tsize < static_cast<hsize_t>(npoints)))
      fail(dataset + " is truncated (its storage holds fewer elements than its shape)");
  }
  return dims;
}

std::vector<double> File::read(const std::string& dataset) const {
  Shape dims = shape(dataset);
  return read_slab(dataset, Shape(dims.size(), 0), dims);
}

std::vector<double> File::read_slab(const std::string& dataset, const Shape& offset, const Shape& count) const {
  Shape dims = shape(dataset);
  if (offset.size() != dims.size() || count.size() != dims.size()) fail("wrong rank for " + dataset);
  hsize_t n = 1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (offset[i] + count[i] > dims[i]) fail("slab out of range in " + dataset);
    n *= count[i];
  }
  Handle d(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  Handle t(H5Dget_type(d.get()), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_FLOAT && H5Tget_class(t.get()) != H5T_INTEGER)
    fail(dataset + " is not numeric");
  std::vector<double> out(n);
  if (n == 0) return out;
  Handle fs(H5Dget_space(d.get()), H5Sclose);
  if (!dims.empty())
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr);
  Handle ms(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, ms.get(), fs.get(), H5P_DEFAULT, out.data()) < 0)
    fail("cannot read " + dataset + " (truncated or corrupt)");
  return out;
}

bool File::has_attribute(const std::string& object, const std::string& name) const {
  if (object != "/" && !exists(object)) return false;
  return H5Aexists_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string File::read_string_attribute(const std::string& object, const std::string& name) const {
  auto v = read_strings_attribute(object, name);
  if (v.size() != 1) fail("attribute " + name + " of " + object + " is not a single string");
  return v[0];
}

std::vector<std::string> File::read_strings_attribute(const std::string& object, const std::string& name) const {
  if (!has_attribute(object, name)) fail("no attribute " + name + " on " + object);
  Handle a(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Handle ft(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ft.get()) != H5T_STRING) fail("attribute " + name + " of " + object + " is not a string");
  Handle sp(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(sp.get());
  if (n < 0) fail("cannot read attribute " + name + " of " + object);
  std::vector<std::string> out;
  if (H5Tis_variable_str(ft.get()) > 0) {
    std::vector<char*> buf(static_cast<std::size_t>(n), nullptr);
    // In the file's character set: HDF5 does not convert between ASCII and UTF-8 strings, and files from other
    // tools (h5py's ascii dtype, C's H5T_C_S1) store ASCII (found by tests/fuzz: "cannot read attribute names").
    Handle mt = vlen_string_type();
    H5Tset_cset(mt.get(), H5Tget_cset(ft.get()));
    if (H5Aread(a.get(), mt.get(), buf.data()) < 0) fail("cannot read attribute " + name);
    for (auto* p : buf) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mt.get(), sp.get(), H5P_DEFAULT, buf.data());
  } else {
    const std::size_t len = H5Tget_size(ft.get());
    std::vector<char> buf(len * static_cast<std::size_t>(n) + 1, '\0');
    if (H5Aread(a.get(), ft.get(), buf.data()) < 0) fail("cannot read attribute " + name);
    for (hssize_t i = 0; i < n; ++i) out.emplace_back(std::string(buf.data() + i * len, len).c_str());
  }
  return out;
}

double File::read_double_attribute(const std::string& object, const std::string& name) const {
  if (!has_attribute(object, name)) fail("no attribute " + name + " on " + object);
  Handle a(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  // One number: H5Aread writes every element of the attribute, and an array attribute where a scalar belongs
  // overflowed `v` on the stack (tests/fuzz).
  Handle sp(H5Aget_space(a.get()), H5Sclose);
  Handle t(H5Aget_type(a.get()), H5Tclose);
  const H5T_class_t cls = t.valid() ? H5Tget_class(t.get()) : H5T_NO_CLASS;
  if (!sp.valid() || H5Sget_simple_extent_npoints(sp.get()) != 1 || (cls != H5T_FLOAT && cls != H5T_INTEGER))
    fail("attribute " + name + " of " + object + " is not a single number");
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail("attribute " + name + " of " + object + " is not a number");
  return v;
}

// ---------------------------------------------------------------------------------------------- writing
OutputFile::OutputFile(const std::string& path, MPI_Comm comm) : path_(path), part_(path + ".part"), comm_(comm) {
  silence();
  Handle fapl = output_fapl(comm);
  hid_t id = H5Fcreate(part_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  int ok = id >= 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok) {
    if (id >= 0) H5Fclose(id);
    throw InputError("-output: cannot create '" + part_ + "' (directory missing or not writable)");
  }
  file_ = Handle(id, H5Fclose);
  xfer_ = Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(xfer_.get(), H5FD_MPIO_COLLECTIVE);
}

OutputFile::OutputFile(const std::string& path, MPI_Comm comm, Reopen) : path_(path), part_(path + ".part"), comm_(comm) {
  silence();
  Handle fapl = output_fapl(comm);
  hid_t id = access(part_.c_str(), W_OK) == 0 ? H5Fopen(part_.c_str(), H5F_ACC_RDWR, fapl.get()) : -1;
  int ok = id >= 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok) {
    if (id >= 0) H5Fclose(id);
    throw InputError("-restart: cannot reopen the interrupted output '" + part_ + "'");
  }
  kept_ = true;  // an interrupted run's data: a failed restart must not delete it
  file_ = Handle(id, H5Fclose);
  xfer_ = Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(xfer_.get(), H5FD_MPIO_COLLECTIVE);
}

OutputFile::OutputFile(const std::string& path, MPI_Comm comm, const Update& update)
    : path_(path), part_(path + ".part"), comm_(comm) {
  silence();
  int copied = 0;
  if (rank(comm) == 0) {
    std::ifstream in(path, std::ios::binary);
    std::ofstream out(part_, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    copied = in.good() && out.good() ? 1 : 0;
    if (!copied) std::remove(part_.c_str());
  }
  MPI_Bcast(&copied, 1, MPI_INT, 0, comm);
  if (!copied) throw InputError(update.option + ": cannot read '" + path + "' or write '" + part_ + "'");
  Handle fapl = output_fapl(comm);
  hid_t id = H5Fopen(part_.c_str(), H5F_ACC_RDWR, fapl.get());
  int ok = id >= 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok) {
    if (id >= 0) H5Fclose(id);
    if (rank(comm) == 0) std::remove(part_.c_str());
    throw InputError(update.option + ": '" + path + "' is not an HDF5 file");
  }
  file_ = Handle(id, H5Fclose);
  xfer_ = Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(xfer_.get(), H5FD_MPIO_COLLECTIVE);
}

void OutputFile::remove(const std::string& object) {
  if (H5Lexists(id(), object.c_str(), H5P_DEFAULT) > 0) check(H5Ldelete(id(), object.c_str(), H5P_DEFAULT), "remove " + object);
}

Handle OutputFile::open(const std::string& dataset) const {
  return Handle(check(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), "open dataset " + dataset), H5Dclose);
}

void OutputFile::flush() {
  if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) throw RuntimeError("HDF5: cannot flush '" + part_ + "'");
}

void OutputFile::keep() {
  flush();
  xfer_.reset();
  file_.reset();
  kept_ = true;
}

OutputFile::~OutputFile() {
  if (committed_ || kept_) return;
  xfer_.reset();
  file_.reset();
  if (rank(comm_) == 0) std::remove(part_.c_str());
}

void OutputFile::write_root_attributes(std::uint64_t seed) {
  attribute("/", "msrom_version", std::string(kVersion));
  attribute("/", "git_sha", std::string(kGitSha));
  attribute("/", "command", command_line());
  // Every rank must write identical attribute values (metadata is collective): rank 0's clock decides.
  std::string created = now_iso8601();
  broadcast(created, comm_);
  attribute("/", "created", created);
  attribute("/", "options", all_options_text());
  attribute("/", "seed", static_cast<std::int64_t>(seed));
  attribute("/", "nranks", static_cast<std::int64_t>(size(comm_)));
}

void OutputFile::ensure_groups(const std::string& dataset) {
  std::size_t pos = 0;
  while ((pos = dataset.find('/', pos + 1)) != std::string::npos) {
    const std::string g = dataset.substr(0, pos);
    if (H5Lexists(id(), g.c_str(), H5P_DEFAULT) <= 0)
      Handle(check(H5Gcreate2(id(), g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create group " + g),
             H5Gclose);
  }
}

Handle OutputFile::create(const std::string& dataset, const Shape& shape) {
  ensure_groups(dataset);
  Handle space(check(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), "dataspace"),
               H5Sclose);
  return Handle(check(H5Dcreate2(id(), dataset.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      "create dataset " + dataset),
                H5Dclose);
}

void OutputFile::write_slab(const Handle& d, const Shape& offset, const Shape& count, const double* data) {
  Handle fs(H5Dget_space(d.get()), H5Sclose);
  hsize_t n = 1;
  for (auto c : count) n *= c;
  if (n == 0) {
    H5Sselect_none(fs.get());
  } else {
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr);
  }
  Handle ms(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (n == 0) H5Sselect_none(ms.get());
  if (H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, ms.get(), fs.get(), xfer_.get(), data) < 0)
    throw RuntimeError("HDF5: cannot write to '" + part_ + "' (disk full?)");
}

void OutputFile::write(const std::string& dataset, const Shape& shape, const double* data) {
  Handle d = create(dataset, shape);
  hsize_t total = 1;
  for (auto s : shape) total *= s;
  if (total == 0) return;  // an empty dataset: nothing to write (and HDF5 rejects empty writes)
  Shape zero(shape.size(), 0), count = shape;
  if (rank(comm_) != 0)
    for (auto& c : count) c = 0;
  write_slab(d, zero, count, data);
}

Handle OutputFile::open_object(const std::string& object) const {
  return Handle(check(H5Oopen(id(), object.c_str(), H5P_DEFAULT), "open " + object), H5Oclose);
}

namespace {
void write_attr(hid_t obj, const std::string& name, hid_t type, hid_t space, const void* data) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle a(check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attribute " + name),
           H5Aclose);
  check(H5Awrite(a.get(), type, data), "write attribute " + name);
}
}  // namespace

void OutputFile::attribute(const std::string& object, const std::string& name, const std::string& value) {
  // A single string is stored as a scalar for the convenience of readers (h5py gives a str).
  Handle o = open_object(object);
  Handle t = vlen_string_type();
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  write_attr(o.get(), name, t.get(), s.get(), &p);
}

void OutputFile::attribute(const std::string& object, const std::string& name, double value) {
  Handle o = open_object(object);
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(o.get(), name, H5T_NATIVE_DOUBLE, s.get(), &value);
}

void OutputFile::attribute(const std::string& object, const std::string& name, std::int64_t value) {
  Handle o = open_object(object);
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(o.get(), name, H5T_NATIVE_INT64, s.get(), &value);
}

void OutputFile::attribute(const std::string& object, const std::string& name, const std::vector<std::string>& values) {
  Handle o = open_object(object);
  Handle t = vlen_string_type();
  hsize_t n = values.size();
  Handle s(H5Screate_simple(1, &n, nullptr), H5Sclose);
  std::vector<const char*> p;
  for (const auto& v : values) p.push_back(v.c_str());
  write_attr(o.get(), name, t.get(), s.get(), p.data());
}

void OutputFile::attribute(const std::string& object, const std::string& name, const std::vector<double>& values) {
  Handle o = open_object(object);
  hsize_t n = values.size();
  Handle s(H5Screate_simple(1, &n, nullptr), H5Sclose);
  write_attr(o.get(), name, H5T_NATIVE_DOUBLE, s.get(), values.data());
}

void OutputFile::commit() {
  xfer_.reset();
  if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) throw RuntimeError("HDF5: cannot flush '" + part_ + "'");
  file_.reset();
  int ok = 1;
  if (rank(comm_) == 0 && std::rename(part_.c_str(), path_.c_str()) != 0) ok = 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);
  if (!ok) throw RuntimeError("cannot rename '" + part_ + "' to '" + path_ + "'");
  committed_ = true;
}

}  // namespace msrom::h5
