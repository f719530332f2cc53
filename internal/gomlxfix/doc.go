// Package gomlxfix works around defects of GoMLX v0.26.0 (the newest version served) from wit's own
// code, without forking GoMLX. Import it (even as `_`) before building any graph: its init replaces
// entries of graph.VJPRegistration and sets GOMLX_NO_AUTO_INSTALL.
//
//   - DotGeneral/Dot VJP: GoMLX differentiates a DotGeneral by broadcasting both operands to an outer
//     product ([B,T,out,in] for a Dense layer) and reducing it. DotGeneralVJP writes each operand's
//     gradient as one DotGeneral plus a transpose. The node's axes live in an unexported struct: they
//     are read by reflection (no unsafe) and checked against node.Shape(); any mismatch (a future
//     GoMLX) falls back to the saved original VJP, so it is slow, never wrong (DotVJPFallbacks).
//   - Slice VJP: GoMLX's uses Pad, which the pure-Go backend lacks; SliceVJP writes the unit-stride
//     case as a concatenation with zeros (strided slices fall back). The model still keeps Slice off
//     its differentiable paths where a one-hot product is as cheap (EOT pooling).
//   - Backend: NewBackend returns the pure-Go backend with SimpleGoConfig ("ops_sequential"), which
//     does not deadlock on 2 cores. The XLA backend exists only with the `xla` build tag (NewXLA,
//     loading a PJRT plugin by absolute path), so default builds and tests never load or download one.
//   - AdamW: GoMLX's Adam().WeightDecay decays every variable; AdamW here follows OpenCLIP (β=(0.9,
//     0.98), ε=1e-6, decoupled decay 0.2 only on weight matrices), with its state in context variables
//     so checkpoints capture it, and a cosine-with-warmup schedule.
package gomlxfix
