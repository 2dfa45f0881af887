"""skd_ros: real-time visual saliency for drones by spatiotemporal knowledge distillation."""

__version__ = "0.1.0"
