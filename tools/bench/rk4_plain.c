/* The peer for msrom simulate's speed: the bistable slow-fast system (x, y1, y2, y3) stepped by RK4 in a
 * plain C loop, x saved every k steps, nothing else. Prints RK4 steps per second.
 *   cc -O3 rk4_plain.c -o rk4_plain && ./rk4_plain 50000000 100 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline void rhs(const double *u, double *f) {
  const double x = u[0], c = 0.08 / 0.5, ie2 = 4.0;
  f[0] = x - x * x * x + c * u[2];
  f[1] = 10.0 * ie2 * (u[2] - u[1]);
  f[2] = ie2 * (u[1] * (28.0 - u[3]) - u[2]);
  f[3] = ie2 * (u[1] * u[2] - (8.0 / 3.0) * u[3]);
}

int main(int argc, char **argv) {
  const long steps = argc > 1 ? atol(argv[1]) : 50000000L, every = argc > 2 ? atol(argv[2]) : 100;
  const double dt = 1e-3;
  double u[4] = {0.1, 1.0, 1.0, 25.0}, k1[4], k2[4], k3[4], k4[4], w[4];
  double *out = malloc(sizeof(double) * (size_t)(steps / every + 1));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long s = 0; s < steps; ++s) {
    rhs(u, k1);
    for (int i = 0; i < 4; ++i) w[i] = u[i] + 0.5 * dt * k1[i];
    rhs(w, k2);
    for (int i = 0; i < 4; ++i) w[i] = u[i] + 0.5 * dt * k2[i];
    rhs(w, k3);
    for (int i = 0; i < 4; ++i) w[i] = u[i] + dt * k3[i];
    rhs(w, k4);
    for (int i = 0; i < 4; ++i) u[i] += dt / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    if ((s + 1) % every == 0) out[(s + 1) / every - 1] = u[0];
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  printf("%.6g %.6g %.17g\n", sec, (double)steps / sec, out[steps / every - 1]);
  free(out);
  return 0;
}
