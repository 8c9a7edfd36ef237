// Threshold unit (datapath chapter "Threshold unit"), in the popcount domain of MVU-2.
//
// THU-1: a canonical unit (polarity, t) for n is stored as (polarity, T), T = (n - t)/2,
//        int16 in [-1, n]; polarity 1 outputs [d <= T], polarity 0 outputs [d >= T].
// THU-2: S units per output channel, one comparison each: [d <= L] with L = T (polarity 1)
//        or L = T - 1 (polarity 0), inverted where the polarity is 0.
// THU-3: the S*Cout bits of a pixel are S slice vectors of Cout channels, slice j at words
//        j*KO .. j*KO + KO - 1, channel c at bit c mod 64 of word c div 64; unused bits 0.
// The units of row o live in the PE-local memory of lane o mod PE, slot o div PE
// (entry slot*MAXS + j), next to the row's weights.  The polarity words M[S, KO] used by
// the pooling unit (POOLU-2) are kept as a register, written with the units.
`timescale 1ns/1ps
module bn_threshold #(
    parameter PE = 4,
    parameter ACC_BITS = 16,
    parameter MAXS = 4,
    parameter MAXKO = 2,
    parameter MAXSLOT = 64
) (
    input  wire                       clk,
    input  wire                       rst,
    input  wire [15:0]                cfg_cout,
    input  wire [3:0]                 cfg_s,     // slices S
    input  wire [3:0]                 cfg_ko,    // words per output slice ceil(Cout/64)
    // unit memory write port
    input  wire                       t_we,
    input  wire [7:0]                 t_lane,
    input  wire [7:0]                 t_slot,
    input  wire [3:0]                 t_slice,
    input  wire                       t_pol,
    input  wire signed [15:0]         t_val,     // T of THU-1
    // accumulators of one neuron fold
    input  wire                       d_valid,
    input  wire [7:0]                 d_nf,
    input  wire                       d_last,
    input  wire [PE*ACC_BITS-1:0]     d_vec,
    // packed output pixel vector
    output reg                        o_valid,
    output reg  [MAXS*MAXKO*64-1:0]   o_vec,
    output reg  [MAXS*MAXKO*64-1:0]   pol_words  // M of POOLU-2
);
    localparam VB = MAXS * MAXKO * 64;
    reg [16:0] tmem [0:PE*MAXSLOT*MAXS-1];   // {polarity, T}
    reg [VB-1:0] part;                       // bits of the earlier neuron folds
    integer i0;
    initial for (i0 = 0; i0 < PE*MAXSLOT*MAXS; i0 = i0 + 1) tmem[i0] = 17'd0;

    always @(posedge clk) begin
        if (rst) pol_words <= 0;
        else if (t_we) begin
            tmem[(t_lane*MAXSLOT + t_slot)*MAXS + t_slice] <= {t_pol, t_val};
            pol_words[t_slice*cfg_ko*64 + t_slot*PE + t_lane] <= t_pol;
        end
    end

    // comparisons of this fold (THU-2)
    reg [VB-1:0] bits;
    integer p, j;
    reg [31:0] o;
    reg [16:0] unit;
    reg signed [ACC_BITS+2:0] dd, lim;
    always @* begin
        bits = d_nf == 0 ? {VB{1'b0}} : part;
        for (p = 0; p < PE; p = p + 1) begin
            o = d_nf * PE + p;
            for (j = 0; j < MAXS; j = j + 1) begin
                if (o < cfg_cout && j < cfg_s) begin
                    unit = tmem[(p*MAXSLOT + d_nf)*MAXS + j];
                    dd = {3'b000, d_vec[p*ACC_BITS +: ACC_BITS]};
                    lim = $signed(unit[15:0]) - (unit[16] ? 0 : 1);
                    bits[j*cfg_ko*64 + o] = (dd <= lim) ^ !unit[16];
                end
            end
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            o_valid <= 1'b0; part <= 0;
        end else begin
            o_valid <= 1'b0;
            if (d_valid) begin
                part <= bits;
                if (d_last) begin
                    o_valid <= 1'b1;
                    o_vec <= bits;
                end
            end
        end
    end
endmodule
