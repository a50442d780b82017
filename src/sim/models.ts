// GPU memory per model of the openb trace (MiB). A sharing task asks the same share of memory as
// of cores (gpu_milli), so these figures scale requests and capacities alike and do not change
// which placements fit; they make the replayed pods look like real HAMi requests.
// Sources: NVIDIA datasheets (Tesla P100 PCIe 16 GB; Tesla T4 16 GB GDDR6; Tesla V100 16 GB and
// 32 GB; A10 24 GB GDDR6). G1/G2/G3 are undisclosed models in the trace (its README): 32 GiB assumed.

export const MODEL_MEMORY_MIB: Readonly<Record<string, number>> = {
  P100: 16_384,
  T4: 16_384,
  V100M16: 16_384,
  V100M32: 32_768,
  A10: 24_576,
  G1: 32_768,
  G2: 32_768,
  G3: 32_768,
};

export function modelMemory(model: string): number {
  const memory = MODEL_MEMORY_MIB[model];
  if (memory === undefined)
    throw new Error(`unknown GPU model ${JSON.stringify(model)}: add it to MODEL_MEMORY_MIB`);
  return memory;
}
