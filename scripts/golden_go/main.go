// Command golden_go presigns STS GetCallerIdentity exactly as aws-iam-authenticator (Go) does:
// with aws-sdk-go-v2's SigV4 signer, the x-k8s-aws-id header signed, X-Amz-Expires=60 and the
// empty-payload hash. It exists only to produce test fixtures (scripts/golden_tokens.py).
//
// Usage: golden_go <RFC3339 time> <endpoint URL> <cluster ID> <signing region> <AKID> <secret> <session token or "">
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func main() {
	if len(os.Args) != 8 {
		fmt.Fprintln(os.Stderr, "usage: golden_go TIME ENDPOINT CLUSTER REGION AKID SECRET TOKEN")
		os.Exit(2)
	}
	t, err := time.Parse(time.RFC3339, os.Args[1])
	if err != nil {
		panic(err)
	}
	req, err := http.NewRequest("GET", os.Args[2]+"/?Action=GetCallerIdentity&Version=2011-06-15", nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("x-k8s-aws-id", os.Args[3])
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "60")
	req.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: os.Args[5], SecretAccessKey: os.Args[6], SessionToken: os.Args[7]}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, "sts", os.Args[4], t)
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
}
