/* Memory-bandwidth probe for the Burgers 2-D scaling benchmark (tools/bench/bench_burgers2d_scaling.sh):
 * a STREAM-like triad a = b + s c + eps a over three 64 MB arrays, repeated; prints GB/s of one process.
 * Run 1 and 2 copies at once to see how much bandwidth a second core adds (the ceiling of any
 * memory-bound code's scaling on this machine).   cc -O3 -o triad stream_triad.c && ./triad [N] [REPS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 8L << 20;
  const int reps = argc > 2 ? atoi(argv[2]) : 20;
  double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
  for (long i = 0; i < n; ++i) a[i] = 0, b[i] = 1, c[i] = 2;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int r = 0; r < reps; ++r) {
    for (long i = 0; i < n; ++i) a[i] = b[i] + 0.5 * c[i] + a[i] * 1e-9;
    __asm__ volatile("" ::: "memory"); /* no loop interchange: every repetition streams the arrays */
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  printf("%.2f GB/s (%.3f s, check %g)\n", 4.0 * 8 * n * reps / s / 1e9, s, a[n / 2]);
  free(a), free(b), free(c);
  return 0;
}
