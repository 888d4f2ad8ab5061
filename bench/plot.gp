# p50 and p99 latency vs concurrency, one colour per contender.
# gnuplot -e "dat='latency.dat'; out='latency.png'; D=200" plot.gp
# latency.dat (tools/report.js): per contender a block of a quoted title
# line then "clients p50_ms p99_ms" lines, blocks two blank lines apart.
if (!exists("dat")) dat = 'latency.dat'
if (!exists("out")) out = 'latency.png'
if (!exists("D")) D = 200
set terminal pngcairo size 1000,720 font ",10" noenhanced
set output out
stats dat every ::1 nooutput    # each block's first line is its title
n = STATS_blocks
set title sprintf("latency vs concurrent clients, provider delay D = %d ms per call (p50 solid, p99 dashed)", D)
set xlabel "concurrent clients"
set ylabel "latency, ms (log)"
set logscale xy
set grid
set key below maxrows 5
plot D with lines lw 1 lc rgb "gray50" dt 3 title "physical limit, 1 call: D", \
     3*D with lines lw 1 lc rgb "gray20" dt 3 title "physical limit, MoA: 3D", \
     for [i=0:n-1] dat index i using 1:2 with linespoints lw 2 pt 7 lc i+1 \
        title columnheader(1) . " p50", \
     for [i=0:n-1] dat index i using 1:3 with linespoints lw 1 dt 2 pt 6 lc i+1 \
        title columnheader(1) . " p99"
