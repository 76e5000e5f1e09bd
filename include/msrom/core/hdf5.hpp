#pragma once
// The one HDF5 layer of msrom: RAII handles, whole-dataset and slab reads, collective slab writes, and
// output files that never carry their final name until complete.
//
//   OutputFile out(path, comm);          // creates path + ".part" (parallel: MPI-IO driver)
//   out.write_root_attributes(seed);     // msrom_version, git_sha, command, created, options, seed, nranks
//   auto d = out.create("/state", {M, nt, dims});
//   out.write_slab(d, {m0, t0, 0}, {nm, nt_chunk, dims}, data);   // collective: every rank calls it
//   out.commit();                        // close + rename to path; without commit the .part is removed
//
// Reading a user's file turns every HDF5 failure into an InputError naming the file and the object.
// HDF5's own error stack printing is switched off; messages are ours.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace msrom::h5 {

// Owns an hid_t and its close function.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

using Shape = std::vector<hsize_t>;

class File {
 public:
  // Opens an existing file read-only; InputError naming the file if missing or not HDF5. `option` names the
  // command-line option that gave the path (for the message).
  static File open(const std::string& path, const std::string& option = "", MPI_Comm comm = MPI_COMM_SELF);

  hid_t id() const { return file_.get(); }
  const std::string& path() const { return path_; }
  bool exists(const std::string& object) const;
  // The names of the links in a group, in name order (empty if the group does not exist).
  std::vector<std::string> children(const std::string& group) const;
  Shape shape(const std::string& dataset) const;
  std::vector<double> read(const std::string& dataset) const;
  // Reads count elements starting at offset (per dimension) of a double dataset.
  std::vector<double> read_slab(const std::string& dataset, const Shape& offset, const Shape& count) const;
  std::string read_string_attribute(const std::string& object, const std::string& name) const;
  std::vector<std::string> read_strings_attribute(const std::string& object, const std::string& name) const;
  double read_double_attribute(const std::string& object, const std::string& name) const;
  bool has_attribute(const std::string& object, const std::string& name) const;

 private:
  std::string path_, option_;
  Handle file_;
  [[noreturn]] void fail(const std::string& what) const;
};

class OutputFile {
 public:
  OutputFile(const std::string& path, MPI_Comm comm);
  // Reopens the path + ".part" of an interrupted run for writing (restart from a checkpoint); InputError if
  // it is missing or unreadable. The .part is kept even if this restart fails.
  struct Reopen {};
  OutputFile(const std::string& path, MPI_Comm comm, Reopen);
  // Adds to an existing complete file: copies it to path + ".part", opens that for writing; commit()
  // replaces the original. `option` names the option that gave the path (InputError if unreadable).
  struct Update {
    std::string option;
  };
  OutputFile(const std::string& path, MPI_Comm comm, const Update& update);
  ~OutputFile();  // removes the .part file unless committed (or kept)
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  hid_t id() const { return file_.get(); }
  // The contract's root attributes: msrom_version, git_sha, command, created, options, seed, nranks.
  void write_root_attributes(std::uint64_t seed);

  // Creates a double dataset (collective), intermediate groups included.
  Handle create(const std::string& dataset, const Shape& shape);
  // Collective: every rank calls it; a rank with nothing to write passes a zero count.
  void write_slab(const Handle& dataset, const Shape& offset, const Shape& count, const double* data);
  // A small dataset with the same content on every rank (written by rank 0).
  void write(const std::string& dataset, const Shape& shape, const double* data);
  void write(const std::string& dataset, const std::vector<double>& data) {
    write(dataset, {data.size()}, data.data());
  }

  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void attribute(const std::string& object, const std::string& name, double value);
  void attribute(const std::string& object, const std::string& name, std::int64_t value);
  void attribute(const std::string& object, const std::string& name, const std::vector<std::string>& values);
  void attribute(const std::string& object, const std::string& name, const std::vector<double>& values);

  // Opens an existing dataset of the file.
  Handle open(const std::string& dataset) const;
  // Removes an object (dataset or group) if it exists.
  void remove(const std::string& object);
  // Flushes everything written so far to disk (collective): the .part is consistent up to here.
  void flush();
  // Closes the file but keeps the .part (a checkpointed run continues it later).
  void keep();
  // Closes the file and renames it to its final name (collective).
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, part_;
  MPI_Comm comm_;
  Handle file_, xfer_;
  bool committed_ = false, kept_ = false;
  Handle open_object(const std::string& object) const;
  void ensure_groups(const std::string& dataset);
};

}  // namespace msrom::h5
