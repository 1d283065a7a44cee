"""fastnn's asv benchmarks: epoch, prediction and compile times (see ../asv.conf.json)."""
