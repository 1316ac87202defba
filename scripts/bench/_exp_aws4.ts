const { AwsV4Signer } = await import("aws4fetch"); new AwsV4Signer({url:"https://a", accessKeyId:"a", secretAccessKey:"b"});
