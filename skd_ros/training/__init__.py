"""skd_ros.training: the two-stage spatiotemporal knowledge distillation that produces Sst."""
