// Logic unit (datapath chapter "Logic unit"): one packed pixel vector per cycle.
//
// LOGU-1: xnor(a, r) = ~(a ^ r) & U, U the used-bit mask of S slices of C channels laid out
//         as PACK-2 (slice j at words j*K .. j*K + K - 1, K = ceil(C/64)).
// LOGU-2: or(a, r) = a | r.  PACK-3: a set unused bit in an operand raises err (the result
//         is still written, but the error is reported, never masked).
`timescale 1ns/1ps
module bn_logic #(
    parameter MAXS = 4,
    parameter MAXK = 2
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire [3:0]               cfg_s,
    input  wire [15:0]              cfg_c,
    input  wire [3:0]               cfg_k,
    input  wire                     op_or,     // 0: XNOR (LOGU-1), 1: OR (LOGU-2)
    input  wire                     i_valid,
    input  wire [MAXS*MAXK*64-1:0]  a,
    input  wire [MAXS*MAXK*64-1:0]  r,
    output reg                      o_valid,
    output reg  [MAXS*MAXK*64-1:0]  o,
    output reg                      err
);
    localparam VB = MAXS * MAXK * 64;
    reg [VB-1:0] used;
    integer i, j;
    always @* begin
        used = 0;
        for (j = 0; j < MAXS; j = j + 1)
            for (i = 0; i < MAXK * 64; i = i + 1)
                if (j < cfg_s && i < cfg_c) used[j*cfg_k*64 + i] = 1'b1;
    end
    always @(posedge clk) begin
        if (rst) begin
            o_valid <= 1'b0; err <= 1'b0;
        end else begin
            o_valid <= i_valid;
            if (i_valid) begin
                o <= op_or ? (a | r) : (~(a ^ r) & used);
                if (((a | r) & ~used) != 0) err <= 1'b1;
            end
        end
    end
endmodule
