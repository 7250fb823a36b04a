// Package k8s holds the Kubernetes manifests (the swarm Job and the
// replica StatefulSet); its test parses them and checks what the README
// promises about them, since no cluster runs in CI.
package k8s
