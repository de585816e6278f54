module dokkumcp.dev/testhost

go 1.26.7

require (
	github.com/joho/godotenv v1.5.1
	github.com/ryanuber/columnize v2.1.2+incompatible
	github.com/spf13/pflag v1.0.10
	golang.org/x/crypto v0.59.0
)

require golang.org/x/sys v0.50.0 // indirect
