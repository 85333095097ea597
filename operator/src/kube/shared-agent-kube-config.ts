// The operator's KubeConfig: every API client it makes sends its requests through one keep-alive
// HTTPS agent, instead of the new agent (and TLS connection) client-node makes per request.
import { Agent } from 'node:https';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

/**
 * client-node 1.x gives each request a new `https.Agent`: a new TLS handshake and an OpenSSL
 * context (CA, certificate, key) per status write, which left the malloc heap growing with
 * the writes. Here the first request's agent options (what the kubeconfig says) build one
 * agent that keeps its connections. The kubeconfig is read once at start, so they never change;
 * proxy and plain-HTTP agents are left as client-node makes them.
 */
export class SharedAgentKubeConfig extends KubeConfig {
  #agent: Agent | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = context.getAgent();
    if (!(agent instanceof Agent)) return;
    this.#agent ??= new Agent({ ...agent.options, keepAlive: true });
    context.setAgent(this.#agent);
  }
}
