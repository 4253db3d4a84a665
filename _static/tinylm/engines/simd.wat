;; WebAssembly SIMD (f32x4) kernels for the CPU engine: gemm (below); exp for the
;; softmax of the loss and the tanh of GELU; causal attention forward and backward;
;; then the GPT-2 engine's (gpt2.js): gemv, pack4 + gemm_cols, attention over a KV cache.
;; tools/build_wasm.mjs also builds a second module from this text whose memory is imported
;; and shared (SIMD_WASM_SHARED), for the threads of pool.js: the line (memory ...) below
;; is the one it rewrites.
;;
;; gemm: C += A @ B on 4×8 blocks.
;;
;; A [M, K], B [K, N], C [M, N]: float32 at byte offsets a, b, c of the exported
;; memory; B and C row-major, A[i, k] at a + i·ra + k·ka (bytes), so A can be read
;; row-major (ra = 4K, ka = 4) or as the transpose of a [K, M] array (ra = 4, ka = 4M). Only rows below M - M % 4 and columns below N - N % 8 are
;; computed; linalg.js does the edges in JavaScript. Each block keeps its 4×8 sums
;; in eight v128 locals: per step of k, two loads of B and four splats of A feed
;; eight multiply-adds. Compiled to simd.js by tools/build_wasm.mjs (wabt).
(module
  (memory (export "memory") 1)
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $ra i32) (param $ka i32)
    (local $i i32) (local $j i32) (local $k i32) (local $M4 i32) (local $N8 i32)
    (local $sb i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32) (local $cp i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local.set $sb (i32.shl (local.get $N) (i32.const 2)))          ;; bytes per row of B and C
    (local.set $M4 (i32.and (local.get $M) (i32.const -4)))
    (local.set $N8 (i32.and (local.get $N) (i32.const -8)))
    (local.set $i (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $M4)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $N8)))
            (local.set $c00 (v128.const f32x4 0 0 0 0)) (local.set $c01 (v128.const f32x4 0 0 0 0))
            (local.set $c10 (v128.const f32x4 0 0 0 0)) (local.set $c11 (v128.const f32x4 0 0 0 0))
            (local.set $c20 (v128.const f32x4 0 0 0 0)) (local.set $c21 (v128.const f32x4 0 0 0 0))
            (local.set $c30 (v128.const f32x4 0 0 0 0)) (local.set $c31 (v128.const f32x4 0 0 0 0))
            (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ra))))
            (local.set $a1 (i32.add (local.get $a0) (local.get $ra)))
            (local.set $a2 (i32.add (local.get $a1) (local.get $ra)))
            (local.set $a3 (i32.add (local.get $a2) (local.get $ra)))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $k_done
              (loop $ks
                (br_if $k_done (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $x (v128.load32_splat (local.get $a0)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (local.get $a1)))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (local.get $a2)))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (local.get $a3)))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $a0 (i32.add (local.get $a0) (local.get $ka)))
                (local.set $a1 (i32.add (local.get $a1) (local.get $ka)))
                (local.set $a2 (i32.add (local.get $a2) (local.get $ka)))
                (local.set $a3 (i32.add (local.get $a3) (local.get $ka)))
                (local.set $bp (i32.add (local.get $bp) (local.get $sb)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $ks)))
            ;; C[i .. i+3, j .. j+7] += the sums
            (local.set $cp (i32.add (local.get $c)
              (i32.add (i32.mul (local.get $i) (local.get $sb)) (i32.shl (local.get $j) (i32.const 2)))))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c00)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c01)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c10)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c11)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c20)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c21)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c30)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c31)))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows))))

  ;; exp(x) for four floats: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 in two parts, as Cephes
  ;; does), e^r by its degree-6 Taylor polynomial (relative error ≤ 2e-7), 2^n from the
  ;; exponent bits. x is clamped to [-87.3, 88]: no infinities, no denormals.
  (func $vexp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
                             (v128.const f32x4 88 88 88 88)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
                             (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.38888889e-3 1.38888889e-3 1.38888889e-3 1.38888889e-3))   ;; 1/720
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.33333333e-3 8.33333333e-3 8.33333333e-3 8.33333333e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.16666667e-2 4.16666667e-2 4.16666667e-2 4.16666667e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 0.166666667 0.166666667 0.166666667 0.166666667)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 0.5 0.5 0.5 0.5)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; the largest of n floats at p (n a multiple of 4, at least 4)
  (func (export "rowmax") (param $p i32) (param $n i32) (result f32)
    (local $m v128) (local $end i32)
    (local.set $m (v128.load (local.get $p)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f32x4.max (local.get $m) (v128.load (local.get $p))))
        (br $next)))
    (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
             (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))

  ;; x ← exp(x − shift) for n floats at p (n a multiple of 4); returns their sum
  (func (export "expsum") (param $p i32) (param $n i32) (param $shift f32) (result f32)
    (local $s v128) (local $acc v128) (local $e v128) (local $end i32)
    (local.set $s (f32x4.splat (local.get $shift)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $e (call $vexp (f32x4.sub (v128.load (local.get $p)) (local.get $s))))
        (v128.store (local.get $p) (local.get $e))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $e)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $next)))
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
             (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))

  ;; x ← x · k for n floats at p (n a multiple of 4)
  (func (export "scale") (param $p i32) (param $n i32) (param $k f32)
    (local $kv v128) (local $end i32)
    (local.set $kv (f32x4.splat (local.get $k)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $kv)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $next))))

  ;; gelu_tanh for n floats at x (n a multiple of 4): y = x/2 · (1 + t) and t = tanh(√(2/π)(x + 0.044715x³)),
  ;; with tanh(z) = 1 − 2/(e^{2z} + 1)
  (func (export "gelu") (param $x i32) (param $y i32) (param $t i32) (param $n i32)
    (local $v v128) (local $th v128) (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $th (f32x4.sub (v128.const f32x4 1 1 1 1)
          (f32x4.div (v128.const f32x4 2 2 2 2)
            (f32x4.add (v128.const f32x4 1 1 1 1)
              (call $vexp (f32x4.mul (v128.const f32x4 1.5957691216 1.5957691216 1.5957691216 1.5957691216)
                (f32x4.add (local.get $v)
                  (f32x4.mul (v128.const f32x4 0.044715 0.044715 0.044715 0.044715)
                    (f32x4.mul (local.get $v) (f32x4.mul (local.get $v) (local.get $v)))))))))))
        (v128.store (local.get $t) (local.get $th))
        (v128.store (local.get $y) (f32x4.mul (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $v))
                                              (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $th))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $t (i32.add (local.get $t) (i32.const 16)))
        (br $next))))

;; ---- causal attention, one window of T tokens, all H heads ---------------------------
  ;; qkv: T rows of 3d floats (Q | K | V; head h at columns h·dh of each), $rs = 12d bytes
  ;; apart; heads and their gradient: T rows of d floats. dh and T are multiples of 4
  ;; (linalg.js checks). Positions j > i are masked. One call per row or column of a
  ;; head, never per pair: a call costs about as much as a 16-float dot product.

  ;; out[j] = a · b_j for j < count, the rows b_j $rs bytes apart, n floats each (n a multiple of 4)
  (func $rowdots (param $out i32) (param $a i32) (param $b i32) (param $rs i32) (param $count i32) (param $n i32)
    (local $end i32) (local $c i32) (local $acc v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $c_done
          (loop $cs
            (br_if $c_done (i32.ge_u (local.get $c) (i32.shl (local.get $n) (i32.const 2))))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $c))) (v128.load (i32.add (local.get $b) (local.get $c))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cs)))
        (f32.store (local.get $out)
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                   (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (local.get $rs)))
        (br $next))))

  ;; y[c] += Σ_j w_j · x_j[c] for j < count, c < n: the weights $ws bytes apart, the rows x_j
  ;; $rs bytes apart (n a multiple of 4)
  (func $mix (param $y i32) (param $w i32) (param $ws i32) (param $x i32) (param $rs i32) (param $count i32) (param $n i32)
    (local $c i32) (local $j i32) (local $acc v128) (local $wp i32) (local $xp i32)
    (local.set $c (i32.const 0))
    (block $c_done
      (loop $cs
        (br_if $c_done (i32.ge_u (local.get $c) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $acc (v128.load (i32.add (local.get $y) (local.get $c))))
        (local.set $wp (local.get $w))
        (local.set $xp (i32.add (local.get $x) (local.get $c)))
        (local.set $j (i32.const 0))
        (block $j_done
          (loop $js
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $count)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load32_splat (local.get $wp)) (v128.load (local.get $xp)))))
            (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
            (local.set $xp (i32.add (local.get $xp) (local.get $rs)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $js)))
        (v128.store (i32.add (local.get $y) (local.get $c)) (local.get $acc))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $cs))))

  ;; the largest of the n floats at p (n ≥ 1)
  (func $max (param $p i32) (param $n i32) (result f32)
    (local $m f32) (local $end i32)
    (local.set $m (f32.const -inf))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f32.max (local.get $m) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $next)))
    (local.get $m))

  ;; Forward: probs [H, T, T] at $p (zeros above the diagonal), heads [T, d] at $o (zeroed by
  ;; the caller). P[i, j] = softmax over j ≤ i of (Q_i·K_j)·scale; out_i = Σ_j P[i, j] V_j.
  (func (export "attn_fwd") (param $qkv i32) (param $p i32) (param $o i32) (param $T i32) (param $d i32) (param $H i32) (param $scale f32)
    (local $h i32) (local $i i32) (local $j i32) (local $dh i32) (local $rs i32) (local $hb i32)
    (local $row i32) (local $shift v128) (local $k v128) (local $e v128) (local $sum v128) (local $lanes v128)
    (local.set $dh (i32.div_u (local.get $d) (local.get $H)))
    (local.set $rs (i32.mul (local.get $d) (i32.const 12)))
    (local.set $k (f32x4.splat (local.get $scale)))
    (local.set $h (i32.const 0))
    (block $h_done
      (loop $hs
        (br_if $h_done (i32.ge_u (local.get $h) (local.get $H)))
        (local.set $hb (i32.shl (i32.mul (local.get $h) (local.get $dh)) (i32.const 2)))
        (local.set $i (i32.const 0))
        (block $i_done
          (loop $is
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $T)))
            (local.set $row (i32.add (local.get $p)
              (i32.shl (i32.mul (i32.add (i32.mul (local.get $h) (local.get $T)) (local.get $i)) (local.get $T)) (i32.const 2))))
            (call $rowdots (local.get $row) (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $i) (local.get $rs))) (local.get $hb))
                           (i32.add (i32.add (local.get $qkv) (i32.shl (local.get $d) (i32.const 2))) (local.get $hb))
                           (local.get $rs) (i32.add (local.get $i) (i32.const 1)) (local.get $dh))
            ;; e = exp((s − max)·scale) on whole groups of 4, lanes past i set to 0; their sum
            (local.set $shift (f32x4.splat (call $max (local.get $row) (i32.add (local.get $i) (i32.const 1)))))
            (local.set $sum (v128.const f32x4 0 0 0 0))
            (local.set $lanes (v128.const i32x4 0 1 2 3))
            (local.set $j (i32.const 0))
            (block $e_done
              (loop $es
                (br_if $e_done (i32.gt_s (local.get $j) (local.get $i)))
                (local.set $e (v128.and
                  (call $vexp (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                                                    (local.get $shift)) (local.get $k)))
                  (i32x4.le_s (local.get $lanes) (i32x4.splat (local.get $i)))))
                (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (local.get $e))
                (local.set $sum (f32x4.add (local.get $sum) (local.get $e)))
                (local.set $lanes (i32x4.add (local.get $lanes) (v128.const i32x4 4 4 4 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $es)))
            ;; P = e / Σe on those groups, 0 on the rest of the row
            (local.set $sum (f32x4.splat (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
              (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum))))))
            (local.set $j (i32.const 0))
            (block $n_done
              (loop $ns
                (br_if $n_done (i32.ge_u (local.get $j) (local.get $T)))
                (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
                  (select (f32x4.div (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $sum))
                          (v128.const f32x4 0 0 0 0)
                          (i32.le_s (local.get $j) (local.get $i))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $ns)))
            ;; out_i = Σ_j P[i, j] V_j
            (call $mix (i32.add (i32.add (local.get $o) (i32.shl (i32.mul (local.get $i) (local.get $d)) (i32.const 2))) (local.get $hb))
                       (local.get $row) (i32.const 4)
                       (i32.add (i32.add (local.get $qkv) (i32.shl (local.get $d) (i32.const 3))) (local.get $hb))
                       (local.get $rs) (i32.add (local.get $i) (i32.const 1)) (local.get $dh))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $is)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hs))))

  ;; Backward from d(heads) [T, d] at $do to d(qkv) [T, 3d] at $dqkv (zeroed by the caller),
  ;; with the forward's probs at $p and T·T floats of scratch at $ds. Per head:
  ;; dP_ij = dO_i·V_j, dS_ij = P_ij (dP_ij − Σ_j P_ij dP_ij)·scale, dQ_i = Σ_j dS_ij K_j,
  ;; dK_j = Σ_i≥j dS_ij Q_i, dV_j = Σ_i≥j P_ij dO_i.
  (func (export "attn_bwd") (param $qkv i32) (param $p i32) (param $do i32) (param $dqkv i32) (param $ds i32)
    (param $T i32) (param $d i32) (param $H i32) (param $scale f32)
    (local $h i32) (local $i i32) (local $j i32) (local $dh i32) (local $rs i32) (local $hb i32)
    (local $prow i32) (local $srow i32) (local $dot f32) (local $diag i32) (local $at i32)
    (local.set $dh (i32.div_u (local.get $d) (local.get $H)))
    (local.set $rs (i32.mul (local.get $d) (i32.const 12)))
    (local.set $h (i32.const 0))
    (block $h_done
      (loop $hs
        (br_if $h_done (i32.ge_u (local.get $h) (local.get $H)))
        (local.set $hb (i32.shl (i32.mul (local.get $h) (local.get $dh)) (i32.const 2)))
        (local.set $i (i32.const 0))
        (block $i_done
          (loop $is
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $T)))
            (local.set $prow (i32.add (local.get $p)
              (i32.shl (i32.mul (i32.add (i32.mul (local.get $h) (local.get $T)) (local.get $i)) (local.get $T)) (i32.const 2))))
            (local.set $srow (i32.add (local.get $ds) (i32.shl (i32.mul (local.get $i) (local.get $T)) (i32.const 2))))
            ;; dP row, then Σ_j P_ij dP_ij, then dS row
            (call $rowdots (local.get $srow) (i32.add (i32.add (local.get $do) (i32.shl (i32.mul (local.get $i) (local.get $d)) (i32.const 2))) (local.get $hb))
                           (i32.add (i32.add (local.get $qkv) (i32.shl (local.get $d) (i32.const 3))) (local.get $hb))
                           (local.get $rs) (i32.add (local.get $i) (i32.const 1)) (local.get $dh))
            (local.set $dot (f32.const 0))
            (local.set $j (i32.const 0))
            (block $p_done
              (loop $ps
                (br_if $p_done (i32.gt_s (local.get $j) (local.get $i)))
                (local.set $at (i32.shl (local.get $j) (i32.const 2)))
                (local.set $dot (f32.add (local.get $dot)
                  (f32.mul (f32.load (i32.add (local.get $prow) (local.get $at))) (f32.load (i32.add (local.get $srow) (local.get $at))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $ps)))
            (local.set $j (i32.const 0))
            (block $s_done
              (loop $ss
                (br_if $s_done (i32.gt_s (local.get $j) (local.get $i)))
                (local.set $at (i32.shl (local.get $j) (i32.const 2)))
                (f32.store (i32.add (local.get $srow) (local.get $at))
                  (f32.mul (f32.mul (f32.load (i32.add (local.get $prow) (local.get $at)))
                                    (f32.sub (f32.load (i32.add (local.get $srow) (local.get $at))) (local.get $dot)))
                           (local.get $scale)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $ss)))
            ;; dQ_i = Σ_j dS_ij K_j
            (call $mix (i32.add (i32.add (local.get $dqkv) (i32.mul (local.get $i) (local.get $rs))) (local.get $hb))
                       (local.get $srow) (i32.const 4)
                       (i32.add (i32.add (local.get $qkv) (i32.shl (local.get $d) (i32.const 2))) (local.get $hb))
                       (local.get $rs) (i32.add (local.get $i) (i32.const 1)) (local.get $dh))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $is)))
        ;; dK_j and dV_j from column j of dS and of P, rows i ≥ j
        (local.set $j (i32.const 0))
        (block $j_done
          (loop $js
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $T)))
            (local.set $diag (i32.shl (i32.mul (local.get $j) (i32.add (local.get $T) (i32.const 1))) (i32.const 2)))   ;; [j, j]
            (call $mix (i32.add (i32.add (i32.add (local.get $dqkv) (i32.mul (local.get $j) (local.get $rs))) (i32.shl (local.get $d) (i32.const 2))) (local.get $hb))
                       (i32.add (local.get $ds) (local.get $diag)) (i32.shl (local.get $T) (i32.const 2))
                       (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $rs))) (local.get $hb))
                       (local.get $rs) (i32.sub (local.get $T) (local.get $j)) (local.get $dh))
            (call $mix (i32.add (i32.add (i32.add (local.get $dqkv) (i32.mul (local.get $j) (local.get $rs))) (i32.shl (local.get $d) (i32.const 3))) (local.get $hb))
                       (i32.add (i32.add (local.get $p)
                         (i32.shl (i32.mul (i32.mul (local.get $h) (local.get $T)) (local.get $T)) (i32.const 2))) (local.get $diag))
                       (i32.shl (local.get $T) (i32.const 2))
                       (i32.add (i32.add (local.get $do) (i32.shl (i32.mul (local.get $j) (local.get $d)) (i32.const 2))) (local.get $hb))
                       (i32.shl (local.get $d) (i32.const 2)) (i32.sub (local.get $T) (local.get $j)) (local.get $dh))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $js)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hs))))

;; ---- the GPT-2 engine's kernels (gpt2.js): operands stay in this memory --------------
  ;; Weights sit at fixed offsets from load on, so a decode step makes a few calls per layer
  ;; and copies nothing. Every weight is [in, out] (Conv1D's own layout; the tied head as
  ;; wteᵀ, transposed once at load) and a row's product streams it in address order,
  ;; y += x[k]·W[k, :]: measured on wte (154 MB), 11.6 GB/s against 6.4 for dot products
  ;; down the rows of wte [V, d] (four rows at a time, a sum each), on one loaded core.

  ;; the sum of a vector's four lanes
  (func $hsum (param $v v128) (result f32)
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
             (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; One row through a Conv1D: y[N] += Σ_k x[k]·W[k, :], W [K, N] row-major at $w (N a
  ;; multiple of 4). Eight rows of W per sweep over y (so y is read and written once per eight
  ;; rows, and W streams in address order); the K % 8 last rows one at a time.
  (func (export "gemv") (param $x i32) (param $w i32) (param $y i32) (param $K i32) (param $N i32)
    (call $gemv_part (local.get $x) (local.get $w) (local.get $y) (local.get $K) (local.get $N) (local.get $N)))

  ;; gemv on n of W's columns (n a multiple of 4; $w and $y at the first of them): W's rows are
  ;; N floats apart. A thread of the pool (pool.js) takes a band of columns.
  (func $gemv_part (export "gemv_part") (param $x i32) (param $w i32) (param $y i32) (param $K i32) (param $n i32) (param $N i32)
    (local $k i32) (local $K8 i32) (local $sb i32) (local $j i32) (local $p0 i32) (local $acc v128) (local $nb i32)
    (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $p4 i32) (local $p5 i32) (local $p6 i32) (local $p7 i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $x4 v128) (local $x5 v128) (local $x6 v128) (local $x7 v128)
    (local.set $sb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $K8 (i32.and (local.get $K) (i32.const -8)))
    (local.set $k (i32.const 0))
    (block $k_done
      (loop $ks
        (br_if $k_done (i32.ge_u (local.get $k) (local.get $K8)))
        (local.set $p0 (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $x0 (v128.load32_splat (local.get $p0)))
        (local.set $x1 (v128.load32_splat offset=4 (local.get $p0)))
        (local.set $x2 (v128.load32_splat offset=8 (local.get $p0)))
        (local.set $x3 (v128.load32_splat offset=12 (local.get $p0)))
        (local.set $x4 (v128.load32_splat offset=16 (local.get $p0)))
        (local.set $x5 (v128.load32_splat offset=20 (local.get $p0)))
        (local.set $x6 (v128.load32_splat offset=24 (local.get $p0)))
        (local.set $x7 (v128.load32_splat offset=28 (local.get $p0)))
        (local.set $p0 (i32.add (local.get $w) (i32.mul (local.get $k) (local.get $sb))))
        (local.set $p1 (i32.add (local.get $p0) (local.get $sb)))
        (local.set $p2 (i32.add (local.get $p1) (local.get $sb)))
        (local.set $p3 (i32.add (local.get $p2) (local.get $sb)))
        (local.set $p4 (i32.add (local.get $p3) (local.get $sb)))
        (local.set $p5 (i32.add (local.get $p4) (local.get $sb)))
        (local.set $p6 (i32.add (local.get $p5) (local.get $sb)))
        (local.set $p7 (i32.add (local.get $p6) (local.get $sb)))
        (local.set $j (i32.const 0))
        (block $j_done
          (loop $js
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $nb)))
            (local.set $acc (f32x4.add (v128.load (i32.add (local.get $y) (local.get $j)))
                                       (f32x4.mul (local.get $x0) (v128.load (i32.add (local.get $p0) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x1)
              (v128.load (i32.add (local.get $p1) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x2)
              (v128.load (i32.add (local.get $p2) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x3)
              (v128.load (i32.add (local.get $p3) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x4)
              (v128.load (i32.add (local.get $p4) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x5)
              (v128.load (i32.add (local.get $p5) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x6)
              (v128.load (i32.add (local.get $p6) (local.get $j))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x7)
              (v128.load (i32.add (local.get $p7) (local.get $j))))))
            (v128.store (i32.add (local.get $y) (local.get $j)) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $js)))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br $ks)))
    (block $t_done
      (loop $ts
        (br_if $t_done (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $x0 (v128.load32_splat (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $p0 (i32.add (local.get $w) (i32.mul (local.get $k) (local.get $sb))))
        (local.set $j (i32.const 0))
        (block $j_done
          (loop $js
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $nb)))
            (v128.store (i32.add (local.get $y) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $y) (local.get $j)))
                         (f32x4.mul (local.get $x0) (v128.load (i32.add (local.get $p0) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $js)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ts))))

  ;; C[M, N] += A[M, K] @ B[K, N] (M a multiple of 4, N of 8; B, C row-major) with A packed
  ;; by pack4: each block of 4 rows as [Kp][4], so the four values of a step of k are one
  ;; pointer's constant offsets (K < Kp: a slice of k, the caller offsetting a and b). gemm's 4×8 blocks with the loops the other way round,
  ;; columns outside, so a K×8 strip of B is read from memory once and then from cache for
  ;; every block of rows (the prompt pass).
  (func (export "gemm_cols") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $Kp i32)
    (call $gemm_cols_part (local.get $a) (local.get $b) (local.get $c) (local.get $M) (local.get $K) (local.get $N)
      (local.get $Kp) (local.get $N)))

  ;; gemm_cols on n of the columns (n a multiple of 8; $b and $c at the first of them): rows of B
  ;; and C are N floats apart. A thread of the pool (pool.js) takes a band of columns.
  (func $gemm_cols_part (export "gemm_cols_part") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32)
    (param $n i32) (param $Kp i32) (param $N i32)
    (local $i i32) (local $j i32) (local $sb i32) (local $ka i32) (local $kl i32)
    (local $ap i32) (local $bp i32) (local $cp i32) (local $end i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local.set $sb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $ka (i32.shl (local.get $Kp) (i32.const 4)))         ;; bytes per packed block of 4 rows
    (local.set $kl (i32.shl (local.get $K) (i32.const 4)))          ;; the bytes of it this call reads
    (local.set $j (i32.const 0))
    (block $cols_done
      (loop $cols
        (br_if $cols_done (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $i (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $M)))
            (local.set $c00 (v128.const f32x4 0 0 0 0)) (local.set $c01 (v128.const f32x4 0 0 0 0))
            (local.set $c10 (v128.const f32x4 0 0 0 0)) (local.set $c11 (v128.const f32x4 0 0 0 0))
            (local.set $c20 (v128.const f32x4 0 0 0 0)) (local.set $c21 (v128.const f32x4 0 0 0 0))
            (local.set $c30 (v128.const f32x4 0 0 0 0)) (local.set $c31 (v128.const f32x4 0 0 0 0))
            (local.set $ap (i32.add (local.get $a) (i32.mul (i32.shr_u (local.get $i) (i32.const 2)) (local.get $ka))))
            (local.set $end (i32.add (local.get $ap) (local.get $kl)))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (loop $ks
              (local.set $b0 (v128.load (local.get $bp)))
              (local.set $b1 (v128.load offset=16 (local.get $bp)))
              (local.set $x (v128.load32_splat (local.get $ap)))
              (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
              (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
              (local.set $x (v128.load32_splat offset=4 (local.get $ap)))
              (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
              (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
              (local.set $x (v128.load32_splat offset=8 (local.get $ap)))
              (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
              (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
              (local.set $x (v128.load32_splat offset=12 (local.get $ap)))
              (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
              (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
              (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
              (local.set $bp (i32.add (local.get $bp) (local.get $sb)))
              (br_if $ks (i32.lt_u (local.get $ap) (local.get $end))))
            (local.set $cp (i32.add (local.get $c)
              (i32.add (i32.mul (local.get $i) (local.get $sb)) (i32.shl (local.get $j) (i32.const 2)))))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c00)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c01)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c10)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c11)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c20)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c21)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c30)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c31)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $rows)))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $cols))))

  ;; A [M, K] row-major at $a -> $p packed for gemm_cols: block of rows 4b .. 4b+3 as [K][4]
  ;; (M a multiple of 4)
  (func (export "pack4") (param $a i32) (param $p i32) (param $M i32) (param $K i32)
    (local $r i32) (local $k i32) (local $kb i32) (local $src i32)
    (local.set $kb (i32.shl (local.get $K) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $r_done
      (loop $rs
        (br_if $r_done (i32.ge_u (local.get $r) (local.get $M)))
        (local.set $src (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $kb))))
        (local.set $k (i32.const 0))
        (block $k_done
          (loop $ks
            (br_if $k_done (i32.ge_u (local.get $k) (local.get $K)))
            (f32.store (i32.add (local.get $p)
                (i32.shl (i32.add (i32.add (i32.mul (i32.shr_u (local.get $r) (i32.const 2)) (i32.shl (local.get $K) (i32.const 2)))
                                           (i32.shl (local.get $k) (i32.const 2)))
                                  (i32.and (local.get $r) (i32.const 3))) (i32.const 2)))
              (f32.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $ks)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rs))))

  ;; Causal attention of T new queries over a KV cache: query i sees keys 0 .. past + i.
  ;; q: T rows $qs bytes apart (head h at floats h·dh); keys at $kc and values at $vc: rows of
  ;; d floats; probs [H, T] rows at $p, $ps bytes apart (at least past + T floats rounded up
  ;; to 4; entries past a row's last key are left as they were); heads [T, d] at $o, zeroed
  ;; by the caller. dh a multiple of 4.
  (func (export "attn_kv") (param $q i32) (param $qs i32) (param $kc i32) (param $vc i32) (param $p i32) (param $ps i32)
    (param $o i32) (param $T i32) (param $past i32) (param $d i32) (param $H i32) (param $scale f32)
    (local $h i32) (local $i i32) (local $j i32) (local $dh i32) (local $hb i32) (local $rs i32) (local $row i32) (local $last i32)
    (local $shift v128) (local $k v128) (local $e v128) (local $sum v128) (local $lanes v128)
    (local.set $dh (i32.div_u (local.get $d) (local.get $H)))
    (local.set $rs (i32.shl (local.get $d) (i32.const 2)))
    (local.set $k (f32x4.splat (local.get $scale)))
    (local.set $h (i32.const 0))
    (block $h_done
      (loop $hs
        (br_if $h_done (i32.ge_u (local.get $h) (local.get $H)))
        (local.set $hb (i32.shl (i32.mul (local.get $h) (local.get $dh)) (i32.const 2)))
        (local.set $i (i32.const 0))
        (block $i_done
          (loop $is
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $T)))
            (local.set $row (i32.add (local.get $p)
              (i32.mul (i32.add (i32.mul (local.get $h) (local.get $T)) (local.get $i)) (local.get $ps))))
            (local.set $last (i32.add (local.get $past) (local.get $i)))
            (call $rowdots (local.get $row) (i32.add (i32.add (local.get $q) (i32.mul (local.get $i) (local.get $qs))) (local.get $hb))
                           (i32.add (local.get $kc) (local.get $hb)) (local.get $rs) (i32.add (local.get $last) (i32.const 1)) (local.get $dh))
            (local.set $shift (f32x4.splat (call $max (local.get $row) (i32.add (local.get $last) (i32.const 1)))))
            (local.set $sum (v128.const f32x4 0 0 0 0))
            (local.set $lanes (v128.const i32x4 0 1 2 3))
            (local.set $j (i32.const 0))
            (block $e_done
              (loop $es
                (br_if $e_done (i32.gt_s (local.get $j) (local.get $last)))
                (local.set $e (v128.and
                  (call $vexp (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                                                    (local.get $shift)) (local.get $k)))
                  (i32x4.le_s (local.get $lanes) (i32x4.splat (local.get $last)))))
                (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (local.get $e))
                (local.set $sum (f32x4.add (local.get $sum) (local.get $e)))
                (local.set $lanes (i32x4.add (local.get $lanes) (v128.const i32x4 4 4 4 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $es)))
            (local.set $sum (f32x4.splat (call $hsum (local.get $sum))))
            (local.set $j (i32.const 0))
            (block $n_done
              (loop $ns
                (br_if $n_done (i32.gt_s (local.get $j) (local.get $last)))
                (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
                  (f32x4.div (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $sum)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $ns)))
            (call $mix (i32.add (i32.add (local.get $o) (i32.mul (local.get $i) (local.get $rs))) (local.get $hb))
                       (local.get $row) (i32.const 4) (i32.add (local.get $vc) (local.get $hb))
                       (local.get $rs) (i32.add (local.get $last) (i32.const 1)) (local.get $dh))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $is)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hs))))
)
