module bonafide

go 1.26.0

require (
	github.com/rwcarlsen/goexif v0.0.0-20190401172101-9e8deecbddbd
	github.com/yalue/onnxruntime_go v1.27.0
	golang.org/x/image v0.48.0
)
