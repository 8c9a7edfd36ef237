"""cocotb testbench of ``bn_datapath``: the conformance kit's cases, word for word.

Run through :mod:`boolnet_spec.equivalence.rtl.runner` (it sets ``BN_RTL_PE``, ``BN_RTL_SIMD``
and ``BN_RTL_RESULTS``). Every test appends its compared cases and measured cycles to the JSON
results file and fails if a word differs.

Timing discipline: inputs are driven and outputs sampled at the falling clock edge; the design
samples at the rising edge, and ``win_ready`` depends only on registered state.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First
from cocotb.utils import get_sim_time

from boolnet_spec.equivalence.datapath.counters import layer_costs
from boolnet_spec.equivalence.datapath.layout import pack_activations, words_for
from boolnet_spec.equivalence.datapath.mvu import MVUConfig
from boolnet_spec.equivalence.rtl import stimuli

PE = int(os.environ.get("BN_RTL_PE", "4"))
SIMD = int(os.environ.get("BN_RTL_SIMD", "8"))
ACC_BITS = int(os.environ.get("BN_RTL_ACC_BITS", "16"))
RESULTS = Path(os.environ.get("BN_RTL_RESULTS", "rtl-results.json"))
MAXS, MAXKO = 4, 2
VB = MAXS * MAXKO * 64


def _record(kind: str, item: dict) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"cases": [], "cycles": []}
    data.setdefault("pe", PE)
    data.setdefault("simd", SIMD)
    data[kind].append(item)
    RESULTS.write_text(json.dumps(data, indent=1))


def _check(case_id: str, unit: str, got: np.ndarray, want: np.ndarray, extra=None) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    same = got.shape == want.shape and np.array_equal(got, want)
    bad = int(np.sum(got != want)) if got.shape == want.shape else -1
    item = {"id": case_id, "unit": unit, "words": int(want.size), "mismatches": bad,
            "pass": bool(same)}
    item.update(extra or {})
    _record("cases", item)
    return same


class Bench:
    def __init__(self, dut):
        self.dut = dut
        self.ovf_seen = False
        self.flagged = np.zeros((0, 0), bool)

    @property
    def cycle(self) -> int:
        """The clock cycle (10 ns period) of the current falling edge."""
        return int(get_sim_time("ns")) // 10

    async def start(self):
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        for name in ("cfg_cout", "cfg_k", "cfg_s", "cfg_ko", "cfg_ext_d", "cfg_pool",
                     "cfg_pool_ext", "cfg_pool_or", "cfg_pool_k", "cfg_h", "cfg_w", "w_we",
                     "w_lane", "w_addr", "w_data", "g_we", "g_lane", "g_slot", "g_data", "t_we",
                     "t_lane", "t_slot", "t_slice", "t_pol", "t_val", "win_valid", "win_data",
                     "x_d_valid", "x_d_nf", "x_d_last", "x_d_vec", "x_p_valid", "x_p_vec", "l_c",
                     "l_op_or", "l_valid", "l_a", "l_r"):
            getattr(dut, name).value = 0
        dut.cfg_pool_k.value = 1
        dut.rst.value = 1
        for _ in range(3):
            await self.tick()
        dut.rst.value = 0
        await self.tick()

    async def tick(self):
        await FallingEdge(self.dut.clk)

    def configure(self, cout=0, k=0, s=0, ko=1, ext_d=0, pool=0, pool_ext=0, pool_or=0,
                  pool_k=1, h=0, w=0):
        dut = self.dut
        dut.cfg_cout.value, dut.cfg_k.value, dut.cfg_s.value, dut.cfg_ko.value = cout, k, s, ko
        dut.cfg_ext_d.value, dut.cfg_pool.value = ext_d, pool
        dut.cfg_pool_ext.value, dut.cfg_pool_or.value = pool_ext, pool_or
        dut.cfg_pool_k.value, dut.cfg_h.value, dut.cfg_w.value = pool_k, h, w

    async def load_rows(self, rows: np.ndarray, groups: int):
        """PE-local weight banks: row o at lane o mod PE, slot o div PE (PACK-4)."""
        dut = self.dut
        cout, k = rows.shape
        per_group = cout // groups
        dut.w_we.value, dut.g_we.value = 1, 1
        for o in range(cout):
            lane, slot = o % PE, o // PE
            dut.g_lane.value, dut.g_slot.value, dut.g_data.value = lane, slot, o // per_group
            for word in range(k):
                dut.w_lane.value, dut.w_addr.value = lane, slot * k + word
                dut.w_data.value = int(rows[o, word])
                await self.tick()
                dut.g_we.value = 0
            dut.g_we.value = 1
        dut.w_we.value, dut.g_we.value = 0, 0

    async def load_units(self, polarity: np.ndarray, big_t: np.ndarray):
        dut = self.dut
        slices, cout = polarity.shape
        dut.t_we.value = 1
        for o in range(cout):
            for j in range(slices):
                dut.t_lane.value, dut.t_slot.value, dut.t_slice.value = o % PE, o // PE, j
                dut.t_pol.value = int(polarity[j, o])
                dut.t_val.value = int(big_t[j, o]) & 0xFFFF
                await self.tick()
        dut.t_we.value = 0

    def _sample(self, d_out: list, o_out: list, o_field="o"):
        dut = self.dut
        if int(dut.d_valid.value):
            vec = int(dut.d_vec.value)
            ovf = int(dut.d_ovf.value)
            d_out.append((int(dut.d_nf.value),
                          [(vec >> (ACC_BITS * p)) & ((1 << ACC_BITS) - 1) for p in range(PE)],
                          ovf, self.cycle))
        valid, vec = (dut.o_valid, dut.o_vec) if o_field == "o" else (dut.l_o_valid, dut.l_o)
        if int(valid.value):
            o_out.append((int(vec.value), self.cycle))

    async def stream_windows(self, wins: list[int], expect_d: int, expect_o: int):
        """Present window vectors back to back (valid/ready); collect accumulators and output
        vectors until ``expect_d`` neuron folds and ``expect_o`` vectors are seen."""
        dut = self.dut
        d_out, o_out, first, idx, guard = [], [], None, 0, 0
        busy0 = int(dut.busy_cycles.value)
        if wins:
            dut.win_data.value = wins[0]
            dut.win_valid.value = 1
        while idx < len(wins) or len(d_out) < expect_d or len(o_out) < expect_o:
            self._sample(d_out, o_out)
            if idx < len(wins) and int(dut.win_ready.value):
                first = self.cycle if first is None else first
                idx += 1   # transferred at the coming rising edge
                await self.tick()
                if idx < len(wins):
                    dut.win_data.value = wins[idx]
                else:
                    dut.win_valid.value = 0
            elif int(dut.d_valid.value) or int(dut.o_valid.value):
                await self.tick()
            else:
                # nothing to sample until one of these changes: skip the idle fold cycles
                waits = [dut.d_valid.value_change, dut.o_valid.value_change]
                if idx < len(wins):
                    waits.append(dut.win_ready.value_change)
                await First(*waits)
                await self.tick()
            guard += 1
            assert guard < 5_000_000, "simulation did not finish"
        last = max([c for *_, c in d_out] + [c for _, c in o_out])
        busy = int(dut.busy_cycles.value) - busy0
        return d_out, o_out, {"busy": busy, "measured": last - first}

    async def conv(self, job: stimuli.ConvJob, slices: int = 0):
        ko = words_for(job.cout)
        pool = job.pool
        n_img, ho, wo = job.pixels
        self.configure(cout=job.cout, k=job.k, s=slices, ko=ko, pool=1 if pool else 0,
                       pool_k=pool or 1, h=ho, w=wo)
        await self.load_rows(job.rows, job.groups)
        if slices:
            await self.load_units(job.polarity, job.big_t)
        await self.tick()
        wins = [stimuli.vector_int(v) for v in job.windows]
        nf = -(-job.cout // PE)
        outs = len(wins) if not pool else n_img * (ho // pool) * (wo // pool)
        d_out, o_out, cyc = await self.stream_windows(wins, nf * len(wins), outs if slices else 0)
        d = np.zeros((len(wins), nf * PE), np.int64)
        flagged = np.zeros((len(wins), nf * PE), bool)
        for i, (fold, lanes, flags, _) in enumerate(d_out):
            assert fold == i % nf
            d[i // nf, fold * PE:(fold + 1) * PE] = lanes
            flagged[i // nf, fold * PE:(fold + 1) * PE] = [(flags >> p) & 1 for p in range(PE)]
        self.flagged = flagged[:, :job.cout]
        assert bool(int(self.dut.ovf_flag.value)) == bool(self.flagged.any() or self.ovf_seen)
        self.ovf_seen |= bool(self.flagged.any())
        d = d[:, :job.cout]
        return d, [v for v, _ in o_out], int(self.flagged.any()), cyc

    async def threshold_ext(self, d: np.ndarray):
        """Accumulators d[P, Cout] into the threshold unit through x_d, one fold a cycle."""
        dut = self.dut
        cout = d.shape[1]
        nf = -(-cout // PE)
        o_out: list = []
        dut.x_d_valid.value = 1
        for pix in range(d.shape[0]):
            for fold in range(nf):
                vec = 0
                for p in range(PE):
                    o = fold * PE + p
                    if o < cout:
                        vec |= int(d[pix, o]) << (ACC_BITS * p)
                dut.x_d_nf.value, dut.x_d_last.value, dut.x_d_vec.value = fold, fold == nf - 1, vec
                await self.tick()
                self._sample([], o_out)
        dut.x_d_valid.value = 0
        for _ in range(4):
            await self.tick()
            self._sample([], o_out)
        return [v for v, _ in o_out]

    async def logic(self, a: np.ndarray, r: np.ndarray, channels: int, slices: int, ko: int,
                    op_or: bool):
        """Pixel vectors a, r [P, S*K] through the logic unit, one pixel a cycle."""
        dut = self.dut
        dut.cfg_s.value, dut.cfg_ko.value = slices, ko
        dut.l_c.value, dut.l_op_or.value = channels, int(op_or)
        await self.tick()
        out: list = []
        first = None
        for pix in range(a.shape[0]):
            dut.l_valid.value = 1
            dut.l_a.value = stimuli.vector_int(a[pix])
            dut.l_r.value = stimuli.vector_int(r[pix])
            first = self.cycle if first is None else first
            await self.tick()
            self._sample([], out, "l")
        dut.l_valid.value = 0
        for _ in range(3):
            await self.tick()
            self._sample([], out, "l")
        words = np.stack([stimuli.int_words(v, slices * ko) for v, _ in out])
        return words, {"busy": a.shape[0], "measured": out[-1][1] - first}, int(dut.l_err.value)


def _vectors_to_words(vectors: list[int], slices: int, ko: int) -> np.ndarray:
    return np.stack([stimuli.int_words(v, MAXS * MAXKO)[:slices * ko] for v in vectors])


CASES = stimuli.suite_cases()
ONLY = os.environ.get("BN_RTL_ONLY", "")


def _selected(unit: str) -> list[str]:
    return [c for c in stimuli.OP_CASES[unit] if ONLY in c]


@cocotb.test()
async def bconv_cases(dut):
    """bconv/*: MVU-1, MVU-3, ACCW-1 against the kit's int16 accumulators (s = n - 2d)."""
    bench = Bench(dut)
    await bench.start()
    ok = True
    for case_id in _selected("bconv"):
        job = stimuli.bconv_job(CASES[case_id])
        d, _, ovf, cyc = await bench.conv(job)
        n_img, ho, wo = job.pixels
        s = (job.n - 2 * d).reshape(n_img, ho, wo, job.cout).transpose(0, 3, 1, 2)
        ok &= _check(case_id, "mvu", s.astype(np.int16), job.expected_s,
                     {"overflow": bool(ovf), "busy_cycles": cyc["busy"],
                      "model_cycles": len(job.windows) * (-(-job.cout // PE))
                      * (-(-64 * job.k // SIMD))})
        ok &= ovf == 0
    assert ok, "bconv cases differ"


@cocotb.test()
async def overflow_case(dut):
    """ACCW-1: an accumulator of ACC_BITS bits flags (and saturates) exactly the d values above
    2**ACC_BITS - 1 and leaves every other one exact; the kit's bconv/slices-groups1 (n = 36)."""
    bench = Bench(dut)
    await bench.start()
    case_id = "bconv/slices-groups1"
    job = stimuli.bconv_job(CASES[case_id])
    d, *_ = await bench.conv(job)
    want_d = ((job.n - job.expected_s.astype(np.int64)) // 2).transpose(0, 2, 3, 1)
    want_d = want_d.reshape(-1, job.cout)
    limit = (1 << ACC_BITS) - 1
    want_flags = want_d > limit
    got = np.where(bench.flagged, -1, d)
    want = np.where(want_flags, -1, want_d)
    ok = _check(f"{case_id}@acc_bits={ACC_BITS}", "accumulator", got, want,
                {"flagged": int(bench.flagged.sum()), "acc_bits": ACC_BITS})
    ok &= np.array_equal(bench.flagged, want_flags)
    ok &= bool(int(dut.ovf_flag.value)) == bool(want_flags.any())
    ok &= bool(np.all(d[bench.flagged] == limit))              # saturated, not wrapped
    assert ok, "ACCW-1 overflow flags differ"


@cocotb.test()
async def threshold_cases(dut):
    """threshold/*: THU-1 to THU-3 (units converted once to T = (n - t)/2)."""
    bench = Bench(dut)
    await bench.start()
    ok = True
    for case_id in _selected("threshold"):
        case = CASES[case_id]
        units = case.objects["units"]
        n = units["n"]
        pol, thr = case.array("polarity"), case.array("threshold")
        s = case.array("s").astype(np.int64)                    # [N, C, H, W]
        cout = s.shape[1]
        slices = pol.shape[0]
        d = (n - s) // 2                                        # MVU-2, exact (parity of n)
        assert np.all((n - s) % 2 == 0)
        bench.configure(cout=cout, s=slices, ko=words_for(cout), ext_d=1)
        await bench.load_units(pol, stimuli.popcount_thresholds(pol, thr, n))
        vectors = await bench.threshold_ext(d.transpose(0, 2, 3, 1).reshape(-1, cout))
        want, _, ko = stimuli.packed_pixels(case.expected(case.outputs[0]))
        ok &= _check(case_id, "threshold", _vectors_to_words(vectors, slices, ko), want)
    assert ok, "threshold cases differ"


@cocotb.test()
async def maxpool_cases(dut):
    """maxpool/*: POOLU-2 behind the threshold unit, POOLU-1 on packed bits."""
    bench = Bench(dut)
    await bench.start()
    ok = True
    for case_id in _selected("maxpool"):
        case = CASES[case_id]
        kernel, stride = case.attrs["kernel"], case.attrs["stride"]
        assert kernel == stride, "the RTL pooling unit implements stride = kernel"
        want, slices, ko = stimuli.packed_pixels(case.expected(case.outputs[0]))
        if case.function == "binary_maxpool":
            x = case.array("x")
            _, slices, _, h, w = x.shape
            pix, _, ko = stimuli.packed_pixels(x)
            bench.configure(s=slices, ko=ko, pool_ext=1, pool_or=1, pool_k=kernel, h=h, w=w)
            await bench.tick()
            out: list = []
            dut.x_p_valid.value = 1
            for vec in pix:
                dut.x_p_vec.value = stimuli.vector_int(vec)
                await bench.tick()
                bench._sample([], out)
            dut.x_p_valid.value = 0
            for _ in range(3):
                await bench.tick()
                bench._sample([], out)
            vectors = [v for v, _ in out]
        else:
            n = case.objects["units"]["n"]
            pol, thr = case.array("polarity"), case.array("threshold")
            s = case.array("s").astype(np.int64)
            _, cout, h, w = s.shape
            bench.configure(cout=cout, s=slices, ko=ko, ext_d=1, pool=1, pool_k=kernel,
                            h=h, w=w)
            await bench.load_units(pol, stimuli.popcount_thresholds(pol, thr, n))
            d = (n - s) // 2
            vectors = await bench.threshold_ext(d.transpose(0, 2, 3, 1).reshape(-1, cout))
        ok &= _check(case_id, "pool", _vectors_to_words(vectors, slices, ko), want)
    assert ok, "maxpool cases differ"


@cocotb.test()
async def logic_cases(dut):
    """logic/*: LOGU-1 (XNOR, masked) and LOGU-2 (OR)."""
    bench = Bench(dut)
    await bench.start()
    ok = True
    for case_id in _selected("logic"):
        case = CASES[case_id]
        a, slices, ko = stimuli.packed_pixels(case.array("x"))
        r, _, _ = stimuli.packed_pixels(case.array("r"))
        chans = case.array("x").shape[2]
        words, _, err = await bench.logic(a, r, chans, slices, ko,
                                          case.function == "logic_or")
        want, _, _ = stimuli.packed_pixels(case.expected(case.outputs[0]))
        ok &= _check(case_id, "logic", words, want, {"pack3_error": err})
        ok &= err == 0
    assert ok, "logic cases differ"


@cocotb.test()
async def block_case(dut):
    """One BoolNet block of network/boolnet-k4-scaled on the RTL, chained on its own outputs:
    conv1 -> threshold -> xnor -> conv2 -> threshold -> or; then the next block's downsample
    branch (1x1 conv over all slices -> threshold -> pool 2, POOLU-2)."""
    bench = Bench(dut)
    await bench.start()
    model, trace = stimuli.network_case(CASES)
    costs = {row["layer"]: row["cycles"] for row in layer_costs(model, MVUConfig(PE, SIMD))}
    x_bits = trace["ghostbnsign"]
    n_img = x_bits.shape[0]
    block = stimuli.BLOCK_NETWORK
    ok = True

    async def conv_node(name: str, x_bits: np.ndarray, expected_acc: str, expected_bits: str):
        nd = stimuli.node(model, name)
        state = model.states[name]
        units = state["units"]
        job = stimuli.conv_job(name, pack_activations(x_bits), state["weight"], nd.attrs,
                               nd.attrs.get("read", "slices"), (units.polarity, units.threshold))
        job.pool = nd.attrs.get("pool", 0)
        slices = units.polarity.shape[0]
        d, vectors, ovf, cyc = await bench.conv(job, slices)
        _, ho, wo = job.pixels
        s = (job.n - 2 * d).reshape(n_img, ho, wo, job.cout).transpose(0, 3, 1, 2)
        good = _check(f"{block}:{nd.outputs[0]}", "mvu", s.astype(np.int16),
                      trace[expected_acc], {"overflow": bool(ovf)})
        want, _, ko = stimuli.packed_pixels(trace[expected_bits])
        got = _vectors_to_words(vectors, slices, ko)
        good &= _check(f"{block}:{nd.outputs[1]}", "threshold+pool" if job.pool else "threshold",
                       got, want)
        model_cycles = costs[name] * n_img
        _record("cycles", {"layer": name, "op": "bconv", "busy": cyc["busy"],
                           "measured": cyc["measured"], "model": model_cycles,
                           "ratio": cyc["measured"] / model_cycles,
                           "busy_ratio": cyc["busy"] / model_cycles})
        n_, s_, c_, h_, w_ = trace[expected_bits].shape
        # the RTL's own output bits, unpacked for the next unit's line buffer
        unpacked = np.unpackbits(got.view(np.uint8).reshape(len(got), -1), axis=1,
                                 bitorder="little").reshape(len(got), s_, ko * 64)[..., :c_]
        bits = unpacked.reshape(n_, h_, w_, s_, c_).transpose(0, 3, 4, 1, 2)
        return good & (ovf == 0), np.ascontiguousarray(bits), got, ko

    async def gate(name: str, a_words: np.ndarray, r_bits: np.ndarray, op_or: bool, ko: int):
        r_words, slices, _ = stimuli.packed_pixels(r_bits)
        words, cyc, err = await bench.logic(a_words, r_words, r_bits.shape[2], slices, ko, op_or)
        want, _, _ = stimuli.packed_pixels(trace[name])
        good = _check(f"{block}:{name}", "logic", words, want, {"pack3_error": err})
        model_cycles = costs[name] * n_img
        _record("cycles", {"layer": name, "op": "or" if op_or else "xnor", "busy": cyc["busy"],
                           "measured": cyc["measured"], "model": model_cycles,
                           "ratio": cyc["measured"] / model_cycles,
                           "busy_ratio": cyc["busy"] / model_cycles})
        shape = trace[name].shape
        unpacked = np.unpackbits(words.view(np.uint8).reshape(len(words), -1), axis=1,
                                 bitorder="little").reshape(len(words), shape[1], ko * 64)
        bits = unpacked[..., :shape[2]].reshape(shape[0], shape[3], shape[4], shape[1], shape[2])
        return good & (err == 0), np.ascontiguousarray(bits.transpose(0, 3, 4, 1, 2)), words

    good, _, g1, ko = await conv_node("layer1.0.conv1", x_bits, "layer1.0.conv1",
                                      "layer1.0.ghostsign1")
    ok &= good
    good, xnor_bits, _ = await gate("layer1.0.xnor", g1, x_bits, False, ko)
    ok &= good
    good, _, g2, ko = await conv_node("layer1.0.conv2", xnor_bits, "layer1.0.conv2",
                                      "layer1.0.ghostsign2")
    ok &= good
    good, _, _ = await gate("layer1.0.or", g2, x_bits, True, ko)
    ok &= good
    down_input = next(node.inputs[0] for node in model.nodes
                      if node.name == "layer2.0.downsample")
    good, *_ = await conv_node("layer2.0.downsample", trace[down_input],
                               "layer2.0.downsample.0", "layer2.0.downsample")
    ok &= good
    assert ok, "block case differs"
