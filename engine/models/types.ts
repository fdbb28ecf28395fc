// What a built-in model builder hands to the rest of the engine: the graph bytes plus everything needed to feed
// it (names, the trainable tensors in FlatParams order, a seeded initial parameter vector).
import type { ClassifierIo } from '../onnx/oracle-onnx.ts';
import type { FlatParams, TensorSpec } from '../params.ts';

export interface ModelGraph extends ClassifierIo {
  name: string;
  opset: number;
  /** The serialized ONNX ModelProto. */
  bytes: Uint8Array;
  /** Trainable tensors: graph inputs, in FlatParams order. */
  trainable: TensorSpec[];
  /** Frozen tensors: baked into the graph as initializers (not fed, not trained). */
  frozen: TensorSpec[];
  /** [inDim, ...hidden, numClasses]. */
  layerDims: number[];
  /** A fresh copy of the seeded initial trainable parameters (He for ReLU layers, Xavier for the head, zero bias). */
  initParams(): FlatParams;
}

/** The MLP with Gaussian noise inputs at pre-activations and the layer inputs as outputs (§2.1). */
export interface LrModelGraph extends ModelGraph {
  /** Indices of the perturbed layers (the trainable ones). */
  layers: number[];
  /** `noise_l` [rows, m_l], already scaled by σ, added to layer l's pre-activation. */
  noiseNames: string[];
  noiseDims: number[];
  /** `act_l` [rows, p_l], the input a_l of layer l (a_0 = x). */
  actNames: string[];
  actDims: number[];
}

/** A frozen prefix: x → features (the input of the head), every weight an initializer. */
export interface FeatureGraph {
  name: string;
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  inDim: number;
  featureDim: number;
}
