// XNOR-popcount matrix-vector unit (datapath chapter "Matrix-vector unit and accumulator").
//
// MVU-1: d[p, o] = sum_k popcount(window[g(o)][k] XOR row[o][k])  (mismatch count).
// MVU-3: PE rows in parallel, SIMD bits of a row per cycle; a pixel vector takes
//        NF = ceil(Cout/PE) neuron folds of F = ceil(64*K/SIMD) synapse folds.
// ACCW-1: unsigned accumulator of ACC_BITS bits, reset per pixel and row; an add that
//        would carry out of ACC_BITS sets d_ovf and the sticky ovf_flag (the layer's output
//        is then invalid, ERROR_IF) and the reported d saturates at 2**ACC_BITS - 1: it never
//        wraps silently.
//
// Row o lives in the PE-local weight bank of lane o mod PE at slot o div PE (words
// slot*K .. slot*K + K - 1, PACK-4 order: tap-major, Kg words per tap).  The group of the
// row (o div (Cout/groups), PACK-4) is a per-slot tag written with the row.
// The window bus carries one pixel's group input vectors (LB-2): group g's K words at
// word offset g*K.  A window is accepted on win_valid & win_ready into the active buffer;
// win_ready is high when idle or in the last fold cycle of the current pixel, so pixels
// stream back to back with no bubble.
`timescale 1ns/1ps
module bn_mvu #(
    parameter PE = 4,
    parameter SIMD = 8,
    parameter ACC_BITS = 16,
    parameter WIN_WORDS = 512,   // max G*K words of one pixel's window vector
    parameter WDEPTH = 1024,     // words per PE-local weight bank
    parameter MAXSLOT = 64       // rows per PE bank (ceil(Cout/PE))
) (
    input  wire                      clk,
    input  wire                      rst,
    input  wire [15:0]               cfg_cout,  // rows (output channels)
    input  wire [15:0]               cfg_k,     // words per row: kh*kw*ceil(Cin_g/64)
    // weight bank write port (one 64-bit word per cycle)
    input  wire                      w_we,
    input  wire [7:0]                w_lane,
    input  wire [15:0]               w_addr,
    input  wire [63:0]               w_data,
    input  wire                      g_we,      // group tag of a row
    input  wire [7:0]                g_lane,
    input  wire [7:0]                g_slot,
    input  wire [7:0]                g_data,
    // window vector stream
    input  wire                      win_valid,
    output wire                      win_ready,
    input  wire [WIN_WORDS*64-1:0]   win_data,
    // accumulators of one neuron fold
    output reg                       d_valid,
    output reg  [7:0]                d_nf,      // neuron fold (= slot) of the PE lanes
    output reg                       d_last,    // last neuron fold of the pixel
    output reg  [PE*ACC_BITS-1:0]    d_vec,
    output reg  [PE-1:0]             d_ovf,     // ACCW-1 overflow per lane
    output reg                       ovf_flag,  // sticky ACCW-1 overflow
    output reg  [31:0]               busy_cycles // fold-issue cycles (MVU-3)
);
    localparam M = (SIMD >= 64) ? SIMD / 64 : 1;      // words per fold
    localparam PCW = 16;                               // popcount width (SIMD <= 32768)

    // MVU-3: SIMD is a multiple of 64 or a power of two below 64.
    initial begin
        if (!((SIMD >= 64 && SIMD % 64 == 0) ||
              (SIMD > 0 && SIMD < 64 && (SIMD & (SIMD - 1)) == 0)) || PE < 1) begin
            $display("bn_mvu: DomainError: SIMD=%0d PE=%0d violate MVU-3", SIMD, PE);
            $finish;
        end
        if (ACC_BITS < 1 || ACC_BITS > 32) begin   // ACCW-1
            $display("bn_mvu: DomainError: ACC_BITS=%0d is not in [1, 32] (ACCW-1)", ACC_BITS);
            $finish;
        end
    end

    wire [15:0] nf_total = (cfg_cout + PE - 1) / PE;                    // ceil(Cout/PE)
    wire [31:0] f_total  = ({16'd0, cfg_k} * 64 + SIMD - 1) / SIMD;     // ceil(64K/SIMD)

    reg                      running;
    reg [15:0]               nf;
    reg [31:0]               f;
    reg [63:0]               win [0:WIN_WORDS-1];  // the active window vector
    reg [ACC_BITS-1:0]       acc [0:PE-1];
    reg [PE-1:0]             ovf_run;   // lane overflowed in this neuron fold

    wire last_fold = running && (nf == nf_total - 1) && (f == f_total - 1);
    assign win_ready = !running || last_fold;
    wire accept = win_valid && win_ready;

    // popcount of a 64-bit word: a tree of adders (SWAR form)
    function [6:0] popcount64(input [63:0] v);
        reg [63:0] t;
        begin
            t = v - ((v >> 1) & 64'h5555555555555555);
            t = (t & 64'h3333333333333333) + ((t >> 2) & 64'h3333333333333333);
            t = (t + (t >> 4)) & 64'h0f0f0f0f0f0f0f0f;
            t = t + (t >> 8);
            t = t + (t >> 16);
            t = t + (t >> 32);
            popcount64 = t[6:0];
        end
    endfunction

    // One lane per PE: its own weight bank and group tags (PE-local memories) and the
    // popcount of its fold.
    wire [PE*PCW-1:0] pc_flat;
    genvar gl;
    generate
        for (gl = 0; gl < PE; gl = gl + 1) begin : lane
            reg [63:0] bank [0:WDEPTH-1];
            reg [7:0]  gtag [0:MAXSLOT-1];
            integer i0;
            initial begin  // idle lanes read zero rows of group 0
                for (i0 = 0; i0 < WDEPTH; i0 = i0 + 1) bank[i0] = 64'd0;
                for (i0 = 0; i0 < MAXSLOT; i0 = i0 + 1) gtag[i0] = 8'd0;
            end
            always @(posedge clk) begin
                if (w_we && w_lane == gl) bank[w_addr] <= w_data;
                if (g_we && g_lane == gl) gtag[g_slot] <= g_data;
            end

            reg [PCW-1:0] pc;
            reg [31:0] k, base_bit;
            reg [63:0] xw;
            reg [7:0]  g;
            integer j;
            always @* begin
                pc = 0;
                g = gtag[nf];
                if (nf * PE + gl >= cfg_cout) begin
                    pc = 0;                       // idle lane of the last neuron fold
                end else if (SIMD >= 64) begin    // SIMD/64 whole words per fold
                    for (j = 0; j < M; j = j + 1) begin
                        k = f * M + j;
                        if (k < cfg_k) begin      // words past the row's end hold no bits
                            xw = win[g*cfg_k + k] ^ bank[nf*cfg_k + k];
                            pc = pc + popcount64(xw);
                        end
                    end
                end else begin                    // SIMD bits of one word per fold
                    base_bit = f * SIMD;
                    k = base_bit >> 6;
                    xw = (win[g*cfg_k + k] ^ bank[nf*cfg_k + k]) >> (base_bit & 63);
                    pc = popcount64(xw & ((64'd1 << SIMD) - 1));
                end
            end
            assign pc_flat[gl*PCW +: PCW] = pc;
        end
    endgenerate

    integer p, j;

    // accumulate: start at 0 on synapse fold 0, never wrap (ACCW-1)
    reg [ACC_BITS:0] sum;
    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0; nf <= 0; f <= 0; d_valid <= 1'b0; d_last <= 1'b0;
            ovf_flag <= 1'b0; busy_cycles <= 0; ovf_run <= 0;
        end else begin
            d_valid <= 1'b0;
            d_last <= 1'b0;
            if (running) begin
                busy_cycles <= busy_cycles + 1;
                for (p = 0; p < PE; p = p + 1) begin
                    sum = (f == 0 ? {(ACC_BITS+1){1'b0}} : {1'b0, acc[p]})
                          + pc_flat[p*PCW +: PCW];
                    acc[p] <= sum[ACC_BITS-1:0];
                    if (f == f_total - 1) begin
                        // an overflowed accumulator is flagged and saturates, never wraps
                        if (sum[ACC_BITS] | (f != 0 && ovf_run[p])) begin
                            d_vec[p*ACC_BITS +: ACC_BITS] <= {ACC_BITS{1'b1}};
                            d_ovf[p] <= 1'b1;
                            ovf_flag <= 1'b1;
                        end else begin
                            d_vec[p*ACC_BITS +: ACC_BITS] <= sum[ACC_BITS-1:0];
                            d_ovf[p] <= 1'b0;
                        end
                    end else begin
                        ovf_run[p] <= sum[ACC_BITS] | (f == 0 ? 1'b0 : ovf_run[p]);
                    end
                end
                if (f == f_total - 1) begin
                    d_valid <= 1'b1;
                    d_nf <= nf[7:0];
                    d_last <= (nf == nf_total - 1);
                    f <= 0;
                    nf <= (nf == nf_total - 1) ? 0 : nf + 1;
                    if (nf == nf_total - 1) running <= accept;
                end else begin
                    f <= f + 1;
                end
            end else if (accept) begin
                running <= 1'b1;
                nf <= 0;
                f <= 0;
            end
            if (accept)
                for (j = 0; j < WIN_WORDS; j = j + 1) win[j] <= win_data[j*64 +: 64];
        end
    end
endmodule
