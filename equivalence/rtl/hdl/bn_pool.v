// Pooling unit (datapath chapter "Pooling unit"), streaming packed pixel vectors.
//
// POOLU-2 (POOL-2): out = (OR_window & M) | (AND_window & ~M), M the polarity words of the
// threshold unit (bit set where the unit's polarity is 1); POOLU-1 (POOL-1) is M = all ones.
// k x k windows, stride k, no padding, floor mode: Ho = floor(H/k), Wo = floor(W/k); pixels of
// the last H mod k rows and W mod k columns belong to no window and are dropped.
// Pixels arrive in raster order, one vector per cycle; an output leaves one cycle after the
// last pixel of its window.  Stride != k is not implemented (see docs/adopter-rtl.rst).
`timescale 1ns/1ps
module bn_pool #(
    parameter VB = 512,       // bits of one pixel vector (S*K words * 64)
    parameter MAXWO = 16
) (
    input  wire           clk,
    input  wire           rst,
    input  wire [7:0]     cfg_k,
    input  wire [15:0]    cfg_h,
    input  wire [15:0]    cfg_w,
    input  wire [VB-1:0]  mask,
    input  wire           i_valid,
    input  wire [VB-1:0]  i_vec,
    output reg            o_valid,
    output reg  [VB-1:0]  o_vec
);
    reg [VB-1:0] or_buf  [0:MAXWO-1];
    reg [VB-1:0] and_buf [0:MAXWO-1];
    reg [15:0] y, x, xo;
    reg [7:0]  ky, kx;
    wire [15:0] ho = cfg_h / cfg_k;
    wire [15:0] wo = cfg_w / cfg_k;
    wire in_window = (y < ho * cfg_k) && (x < wo * cfg_k);
    wire first = (ky == 0) && (kx == 0);
    wire lastw = (ky == cfg_k - 1) && (kx == cfg_k - 1);
    wire [VB-1:0] orv  = first ? i_vec : (or_buf[xo] | i_vec);
    wire [VB-1:0] andv = first ? i_vec : (and_buf[xo] & i_vec);

    always @(posedge clk) begin
        if (rst) begin
            y <= 0; x <= 0; xo <= 0; ky <= 0; kx <= 0; o_valid <= 1'b0;
        end else begin
            o_valid <= 1'b0;
            if (i_valid) begin
                if (in_window) begin
                    or_buf[xo] <= orv;
                    and_buf[xo] <= andv;
                    if (lastw) begin
                        o_valid <= 1'b1;
                        o_vec <= (orv & mask) | (andv & ~mask);
                    end
                end
                // advance raster position
                if (x == cfg_w - 1) begin
                    x <= 0; kx <= 0; xo <= 0;
                    if (y == cfg_h - 1) begin
                        y <= 0; ky <= 0;
                    end else begin
                        y <= y + 1;
                        ky <= (ky == cfg_k - 1) ? 0 : ky + 1;
                    end
                end else begin
                    x <= x + 1;
                    if (kx == cfg_k - 1) begin
                        kx <= 0; xo <= xo + 1;
                    end else begin
                        kx <= kx + 1;
                    end
                end
            end
        end
    end
endmodule
