"""skd_ros: real-time visual saliency for drones by spatiotemporal knowledge distillation."""

from skd_ros.images.limits import limit_opencv_decoding

__version__ = "0.1.0"

limit_opencv_decoding()  # before any module of ours imports cv2
