// Electron cannot be installed offline, so it is the one thing the suite replaces (conventions 14).
import { vi } from 'vitest';

vi.mock('electron', () => import('./mocks/electron.ts'));
