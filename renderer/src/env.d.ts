/// <reference types="svelte" />
/// <reference types="vite/client" />
import type { BridgeApi } from '../../app/contract.ts';

// The Electron preload's bridge (conventions 2): its type comes from the contract, never written by hand.
declare global {
  interface Window {
    api?: BridgeApi;
  }
}
